package metadatatest

import (
	"strings"

	"github.com/s3dfs/s3dfs/metadata"
)

// badIDs are strings that are not canonical node ids, each for a reason.
var badIDs = []string{
	"",
	"root",
	"../../etc",
	"../../../../../../../../../../../etc",  // 36 bytes
	"5E3B9C1A-0D2F-4A6B-8C7D-9E0F1A2B3C4D",  // upper case
	"5e3b9c1a0d2f4a6b8c7d9e0f1a2b3c4d",      // no hyphens
	"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4d0", // one byte long
	"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4",   // one byte short
	"5e3b9c1a-0d2f-4a6b-8c7d/9e0f1a2b3c4d",
	"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4\x00",
	"{5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c}",
	"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4g",
}

// badNames are invalid names, each for a reason.
var badNames = []string{
	"",
	".",
	"..",
	"a/b",
	"/",
	"../x",
	"a\x00b",
	strings.Repeat("n", metadata.MaxNameLen+1),
	"a\xffb",
	"\xc3", // a truncated two-byte rune
}

// oddNames are valid names that are easy to get wrong when they become
// paths, URLs, keys or SQL.
var oddNames = []string{
	strings.Repeat("n", metadata.MaxNameLen),
	strings.Repeat("é", (metadata.MaxNameLen-1)/2) + "x", // 255 bytes of mostly 2-byte runes
	"with space",
	" leading space",
	"trailing space ",
	"#hash",
	"100%",
	"100%25",
	"what?",
	"a&b=c",
	`double"quote`,
	"single'quote",
	"back\\slash",
	"star*",
	"colon:",
	"semi;colon",
	"pipe|",
	"<angle>",
	"tab\there",
	"日本語のファイル",
	"emoji 😀",
	".hidden",
	"..hidden",
	"...",
	"a..b",
	"~tilde",
	"-dash",
	"'; DROP TABLE nodes; --",
}
