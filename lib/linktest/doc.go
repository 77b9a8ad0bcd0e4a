// Package linktest keeps each function's binary light by keeping its heavy
// dependencies where they are needed (issue 18: at most 20 MB, built as
// the template builds it). Building thirteen binaries takes minutes, so the
// test reads what each function links instead (`go list -deps`, as the
// template's build sees it: linux/amd64, no cgo) and checks it against an
// allow-list per dependency, naming the import chain of anything new. The
// size itself is checked where the images are built, by the rehearsal.
//
// It holds no code. An allowed function that no longer links its
// dependency fails too, so the lists only shrink.
package linktest
