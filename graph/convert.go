package graph

import (
	"fmt"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/graph/model"
	"github.com/partnercenter/multichannel/projections"
)

// notFound is the answer for an object that does not exist or that the
// caller cannot see: the two are indistinguishable on purpose.
func notFound(kind string) error {
	return domain.Errorf(domain.CodeNotFound, "no %s with that id", kind)
}

func customer(c projections.Customer) *model.Customer { return &model.Customer{Customer: c} }

func customerConnection(c projections.CustomerConnection) *model.CustomerConnection {
	out := &model.CustomerConnection{PageInfo: &c.PageInfo, TotalCount: c.TotalCount, Edges: make([]model.CustomerEdge, len(c.Edges))}
	for i, e := range c.Edges {
		out.Edges[i] = model.CustomerEdge{Cursor: e.Cursor, Node: customer(e.Node)}
	}
	return out
}

func customerFilter(f *model.CustomerFilter) (projections.CustomerFilter, error) {
	if f == nil {
		return projections.CustomerFilter{}, nil
	}
	if err := domain.CheckOptionalLength("filter.nameContains", f.NameContains, domain.MaxFilterLength); err != nil {
		return projections.CustomerFilter{}, err
	}
	return projections.CustomerFilter{Cloud: f.Cloud, NameContains: f.NameContains}, nil
}

func eventFilter(f *model.EventFilter) (projections.EventFilter, error) {
	if f == nil {
		return projections.EventFilter{}, nil
	}
	corr, err := domain.ParseOptionalID("filter.correlationId", f.CorrelationID)
	if err != nil {
		return projections.EventFilter{}, err
	}
	if len(f.Types) > domain.MaxFilterItems {
		return projections.EventFilter{}, domain.Errorf(domain.CodeBadUserInput, "filter.types has at most %d items, not %d", domain.MaxFilterItems, len(f.Types))
	}
	for i := range f.Types {
		if err := domain.CheckLength(fmt.Sprintf("filter.types[%d]", i), f.Types[i], domain.MaxFilterLength); err != nil {
			return projections.EventFilter{}, err
		}
	}
	if err := domain.CheckOptionalLength("filter.stream", f.Stream, domain.MaxFilterLength); err != nil {
		return projections.EventFilter{}, err
	}
	if err := domain.CheckOptionalLength("filter.actorUserId", f.ActorUserID, domain.MaxFilterLength); err != nil {
		return projections.EventFilter{}, err
	}
	return projections.EventFilter{Stream: f.Stream, Types: f.Types, ActorUserID: f.ActorUserID, CorrelationID: corr, From: f.From, To: f.To}, nil
}
