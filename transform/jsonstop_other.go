//go:build !amd64

package transform

// hasAVX2: no assembly scan here; jsonStopWords does it all.
var hasAVX2 = false

func jsonStopBlocks([]byte) (n int, high, stopped bool) { return 0, false, false }
