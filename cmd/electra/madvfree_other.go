//go:build !linux

package main

// reexecForMADVFree: madvdontneed matters on Linux only (madvfree_linux.go).
func reexecForMADVFree([]string) {}
