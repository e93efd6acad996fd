package blobstoretest

// Quirks are known deviations of a store from the contract: in practice,
// of the S3 server behind blobstore/s3. s3dfs does not depend on them (its
// keys and metadata avoid them, or the store guards against them), and
// the suite checks, for each declared quirk, that the deviation is really
// there and that the store still behaves as the quirk says; so a quirk
// that a server fixes fails the suite until it is removed here, and an
// undeclared one fails it as a broken contract. Run and RunShared declare
// none.
type Quirks struct {
	// EmptyMetadataDropped: a metadata key with an empty value is not
	// stored (SeaweedFS). s3dfs's back-pointers are ids, never empty.
	EmptyMetadataDropped bool
	// UploadsPrefixHidden: keys below ".uploads/" are stored and can be
	// read, but List does not show them (SeaweedFS keeps its multipart
	// uploads there). s3dfs's keys start with a space id, "s3dfs-volume/"
	// or the quarantine prefix, which may not start with ".uploads/".
	UploadsPrefixHidden bool
	// ReplacedPartKept: a part uploaded again does not replace the earlier
	// upload; the server lists both and CompleteMultipart assembles
	// whichever ETag it is given, the earlier one too (SeaweedFS). The
	// store then refuses ListParts with ErrInvalidPart (the listing cannot
	// say which upload counts), and completes with the ETags it is given,
	// which for s3dfs are those of the latest uploads.
	ReplacedPartKept bool
}
