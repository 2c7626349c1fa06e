// Package utils is a stub of github.com/gofiber/fiber/v2/utils for type-checking test fixtures.
package utils

// CopyString returns a copy of s that does not share memory with it.
func CopyString(s string) string { panic("stub") }

// CopyBytes returns a copy of b.
func CopyBytes(b []byte) []byte { panic("stub") }
