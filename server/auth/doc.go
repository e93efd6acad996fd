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
// milliseconds), so successful checks are cached briefly, keyed by a SHA-256
// of the credentials (never the credentials themselves); the cache is
// dropped whenever the users file changes, which the authenticator notices
// by its stat(2) stamp, checked at most once a second. A check for an
// unknown user still runs bcrypt against a dummy hash, so that response
// times do not tell which user names exist.
//
// # Groups
//
// A user's groups come from the same file ([Authenticator.Groups]), read
// at every request rather than cached with the credentials, so that a
// change of membership takes effect within ReloadEvery, like a revoked
// token. Group names follow the rules of user names; they name grantees
// ("group:NAME") in the driver's grants and nothing else.
package auth
