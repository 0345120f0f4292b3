// Package util closes what it is given, from another package than its
// caller's (bodyclose #39).
package util

import (
	"context"
	"log"
)

// Close closes c and logs a failure.
func Close(ctx context.Context, c interface{ Close(context.Context) error }) {
	if err := c.Close(ctx); err != nil {
		log.Printf("close: %v", err)
	}
}
