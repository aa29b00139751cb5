//go:build !amd64

package transform

func jsonStopBlocks([]byte) (int, bool) { return 0, false }
