// Package archtest keeps the package map of docs/architecture.md true: its
// tests read every package under lib/ with its imports, check that the map
// names each with its floor and its imports today, and that no import
// crosses the floors the map allows (the domain never imports the function
// runtime). It holds no code: `go test ./lib/archtest -update` rewrites the
// map's imports column after an import changed.
package archtest
