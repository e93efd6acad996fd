// Package auth owns the users file of `s3dfs serve` and checks the
// credentials of HTTP requests against it.
//
// # The users file
//
// One JSON document, by default <root>/users.json, mode 0600:
//
//	{
//	  "version": 1,
//	  "users": {
//	    "alice": {
//	      "password": "$2a$10$...",                    bcrypt hash of the password
//	      "tokens": [                                   app tokens (bearer or as a Basic password)
//	        {"id": "3f2a9c1e", "sha256": "<hex>", "created": "2026-11-25T10:00:00Z"}
//	      ],
//	      "groups": ["finance", "staff"]               groups, sorted; grants to "group:NAME" apply
//	    }
//	  }
//	}
//
// Only hashes are stored. App tokens are 256 random bits, so a plain
// SHA-256 is enough to make a stolen file useless; passwords are chosen by
// people and get bcrypt. Every change is a read-modify-write under an
// exclusive flock(2) of "<file>.lock", written to a temp file in the same
// directory, fsynced and renamed over the old file, so that a reader (a
// running server) never sees a torn file and two concurrent `s3dfs user`
// commands do not lose each other's changes.
//
// # Checking credentials
//
// [Authenticator] accepts HTTP Basic (user and password, or user and one of
// the user's app tokens as the password, as ownCloud app passwords work) and
// "Authorization: Bearer TOKEN". bcrypt is slow on purpose (tens of
// milliseconds), so successful checks are cached briefly, keyed by an HMAC
// of the credentials under a secret of the process (never the credentials
// themselves). Each entry remembers the stored hash (password or token)
// that the credentials matched, and counts only while the users file still
// holds it: a changed password, a revoked token or a deleted user ends it
// at once, other changes leave it. The authenticator notices a changed
// file by its stat(2) stamp, checked at most once a second.
//
// Credentials that are not cached meet two limits before the password is
// looked at ([Options]): failures per user name and per client address,
// each a token bucket (a burst, then one more try per interval); beyond
// either, the check fails with a [ThrottledError] (the server answers 429
// with Retry-After). Then a gate bounds the bcrypt hashes computed at once
// and the checks waiting for one, so that a storm of wrong passwords takes
// at most those cores. Cached credentials skip all of it. A check for an
// unknown user name counts against the same limits and runs bcrypt against
// a dummy hash of the cost most users' hashes have, so that neither the
// answers nor their time tell which user names exist. The tables of the
// limits are bounded (forgotten buckets are full ones first).
//
// # Groups
//
// A user's groups come from the same file ([Authenticator.Groups]), read
// at every request rather than cached with the credentials, so that a
// change of membership takes effect within ReloadEvery, like a revoked
// token. Group names follow the rules of user names; they name grantees
// ("group:NAME") in the driver's grants and nothing else.
package auth
