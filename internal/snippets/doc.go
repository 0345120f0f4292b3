// Package snippets holds only a test: every Go snippet in the repository's
// prose (README.md, docs/*.md, and the code blocks of doc comments) appears,
// line for line, in Go code that `make test` compiles and runs — an
// Example, a test, an example program — so that no snippet can drift from
// the API it shows.
package snippets
