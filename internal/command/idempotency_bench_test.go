package command_test

import (
	"fmt"
	"testing"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/command"
)

// BenchmarkIdempotencyKey compares a mutation that creates an object with
// an Idempotency-Key (claim, append, completion) against the same without
// one, on the embedded store, in one run; the ratio is the key's cost.
func BenchmarkIdempotencyKey(b *testing.B) {
	store := newLogStore(b)
	h := command.New(store, nil, nil, nil)
	for _, keyed := range []bool{false, true} {
		b.Run(fmt.Sprintf("keyed=%v", keyed), func(b *testing.B) {
			_, customer := seedPairB(b, h)
			i := 0
			for b.Loop() {
				r := actor(customer, domain.RoleGlobalAdmin)
				if keyed {
					r.IdempotencyKey, r.Fingerprint = fmt.Sprintf("key-%d", i), "fp"
				}
				i++
				if _, err := h.RecordExternalSubscription(ctx(), r, purchase(customer)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
