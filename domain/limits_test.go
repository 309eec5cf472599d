package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

func TestInputBounds(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes
	ptr := func(s string) *string { return &s }
	services := func(n int, name string) []domain.Service {
		s := make([]domain.Service, n)
		for i := range s {
			s[i] = domain.Service{ID: uuid.New(), Name: name}
		}
		return s
	}
	purchase := func(offer string, svc []domain.Service) error {
		return domain.ExternalPurchase{CustomerID: uuid.New(), Offer: offer, BillingModel: domain.UsageBased, Channel: domain.ChannelOpen, Quantity: 1, Services: svc}.Validate()
	}
	replacement := func(details domain.LegacyDetails) error { return domain.ValidateReplacement("Azure plan", details) }
	for _, tc := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"partner name of 256", domain.ValidateEnrollPartner(long(256), domain.CloudPublic), true},
		{"partner name of 257", domain.ValidateEnrollPartner(long(257), domain.CloudPublic), false},
		{"customer name of 257", domain.ValidateOnboardCustomer(long(257), "a.example.com", domain.CloudPublic), false},
		{"domain of 253", domain.ValidateOnboardCustomer("N", strings.Repeat("a.", 125)+"com", domain.CloudPublic), true},
		{"domain of 254", domain.ValidateOnboardCustomer("N", strings.Repeat("a.", 125)+"comm", domain.CloudPublic), false},
		{"offer of 257", purchase(long(257), nil), false},
		{"500 services", purchase("O", services(500, "s")), true},
		{"501 services", purchase("O", services(501, "s")), false},
		{"service name of 257", purchase("O", services(1, long(257))), false},
		{"message of 2000", domain.ValidateRelationshipMessage(ptr(long(2000))), true},
		{"message of 2001", domain.ValidateRelationshipMessage(ptr(long(2001))), false},
		{"no message", domain.ValidateRelationshipMessage(nil), true},
		{"replacement offer of 257", domain.ValidateReplacement(long(257), domain.LegacyDetails{AzureSubscriptionID: "x"}), false},
		{"azureSubscriptionId of 257", replacement(domain.LegacyDetails{AzureSubscriptionID: long(257)}), false},
		{"agreementNumber of 257", replacement(domain.LegacyDetails{AzureSubscriptionID: "x", AgreementNumber: ptr(long(257))}), false},
		{"notes of 2000", replacement(domain.LegacyDetails{AzureSubscriptionID: "x", Notes: ptr(long(2000))}), true},
		{"notes of 2001", replacement(domain.LegacyDetails{AzureSubscriptionID: "x", Notes: ptr(long(2001))}), false},
	} {
		if tc.ok != (tc.err == nil) || (tc.err != nil && !errors.Is(tc.err, domain.ErrBadUserInput)) {
			t.Errorf("%s: %v", tc.name, tc.err)
		}
	}
}

// A NOT_ELIGIBLE refusal says what applies instead, in Partner Center's
// words, not the decision table's row names.
func TestNotEligibleSaysWhatApplies(t *testing.T) {
	t.Parallel()
	for row, msg := range domain.WhatApplies() {
		if strings.Contains(msg, string(row)) || strings.Contains(msg, "row") || msg == "" {
			t.Errorf("%s: %q", row, msg)
		}
	}
}
