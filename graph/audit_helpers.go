package graph

import (
	"context"
	"fmt"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/graph/model"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/internal/integrity"
	"github.com/partnercenter/multichannel/projections"
)

// auditor returns the caller if it is an AUDITOR, else FORBIDDEN: the
// integrity report and the read-model digest describe the whole log.
func auditor(ctx context.Context) (domain.Actor, error) {
	v, err := caller(ctx)
	if err != nil {
		return v, err
	}
	return v, domain.AuthorizeAudit(v)
}

// history answers an object's history field.
func (r *Resolver) history(ctx context.Context, stream string, first *int, after *string, newestFirst *bool) (*projections.EventConnection, error) {
	v, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := r.Model.History(ctx, v, stream, first, after, newestFirst != nil && *newestFirst)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// eventHash reads the event's stored metadata for its chain hash. Event
// views do not carry it, and only auditing clients ask, so the read is paid
// only when the field is selected.
func (r *Resolver) eventHash(ctx context.Context, e *projections.Event) (*string, error) {
	got, err := r.Store.ReadStream(ctx, e.Stream, eventstore.Forwards, e.Revision, 1)
	if err != nil {
		return nil, fmt.Errorf("hash of %s@%d: %w", e.Stream, e.Revision, err)
	}
	if len(got) != 1 || got[0].ID != e.ID {
		return nil, fmt.Errorf("hash of %s@%d: the stored event is not %s", e.Stream, e.Revision, e.ID)
	}
	_, hash, ok := integrity.Open(got[0].Metadata)
	if !ok {
		return nil, nil
	}
	return &hash, nil
}

func integrityReport(rep *audit.Report) *model.IntegrityReport {
	out := &model.IntegrityReport{
		EventCount: int(rep.EventCount), StreamCount: rep.StreamCount, IntactCount: rep.IntactCount,
		Broken: make([]model.StreamIntegrity, len(rep.Broken)), BrokenCount: rep.BrokenCount,
		Digest: rep.Digest.String(), ExtendsExpected: rep.ExtendsExpected,
	}
	if rep.EventCount > 0 {
		p := rep.Position.String()
		out.Position = &p
	}
	for i, b := range rep.Broken {
		s := model.StreamIntegrity{Stream: b.Stream, Intact: b.Intact, EventCount: int(b.EventCount)}
		if b.FirstBrokenRevision != nil {
			rev := int(*b.FirstBrokenRevision)
			s.FirstBrokenRevision = &rev
		}
		if b.Reason != "" {
			reason := b.Reason
			s.Reason = &reason
		}
		out.Broken[i] = s
	}
	return out
}
