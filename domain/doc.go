// Package domain holds the multi-channel support rules: the events, the
// aggregates that decide them, and the typed refusals. It depends on the
// standard library and github.com/google/uuid only (a test enforces it):
// storage, transport and GraphQL live in other packages, and every fact an
// aggregate needs from another stream is passed in as an argument.
//
// Aggregates (Partner, Customer, Subscription, Relationship) are rebuilt by
// folding their stream's events with Apply, the only code that changes their
// state; their command methods check the rules and return new events or a
// *Error, never both, and a command that changes nothing returns no events.
// Time is always a parameter: no rule reads the wall clock.
//
// Every mutation checks, in this order:
//
//  1. UNAUTHENTICATED (the HTTP layer);
//  2. BAD_USER_INPUT for malformed input (the Validate functions);
//  3. FORBIDDEN by role or kind of tenant (the Authorize functions): only
//     GLOBAL_ADMIN, USER_ADMIN and SALES_AGENT act; a tenant that is both a
//     partner and a customer acts as the customer on the customer's own
//     objects and as a partner on the rest;
//  4. NOT_FOUND for what the caller cannot see, then FORBIDDEN for what it
//     sees but may not act on (the Check...Access functions);
//  5. the refusals of the decision table, in its order (the aggregates).
//
// The rules guarded:
//
//   - A partner and a customer it acts on share a cloud (CLOUD_MISMATCH), and
//     so do a subscription's customer and its recorded seller.
//   - A customer that is a CSP partner (its flag, or its id is an enrolled
//     partner's) is never resold to (PARTNER_TO_PARTNER_RESALE).
//   - Subscriptions bought from a Syndication partner, and every row that is
//     not the action's own, are NOT_ELIGIBLE.
//   - Switching, creating the replacement Azure subscription and cancelling
//     legacy services need the pair's ACCEPTED relationship
//     (RELATIONSHIP_REQUIRED).
//   - A license-based subscription sold by another CSP partner moves only
//     from its term end on (TERM_NOT_ENDED); once cancelled, nothing moves
//     (INVALID_STATE).
//   - One PENDING-or-ACCEPTED relationship per partner and customer; a
//     request expires at RequestedAt + RelationshipTTL, whether or not
//     RelationshipExpired is recorded yet (EffectiveRelationshipStatus); only
//     the customer's GLOBAL_ADMIN answers it, and only while it is pending.
//   - One replacement per legacy subscription and partner; cancelling the
//     last legacy service leaves the legacy subscription ACTIVE (Azure CSP
//     coexists with other channels), cancelling it whole cancels it and every
//     active service in one LegacyServiceCancelled.
//   - Cancelling what is cancelled is INVALID_STATE.
package domain
