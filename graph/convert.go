package graph

import (
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

func eventFilter(f *model.EventFilter) (projections.EventFilter, error) {
	if f == nil {
		return projections.EventFilter{}, nil
	}
	corr, err := domain.ParseOptionalID("filter.correlationId", f.CorrelationID)
	if err != nil {
		return projections.EventFilter{}, err
	}
	return projections.EventFilter{Stream: f.Stream, Types: f.Types, ActorUserID: f.ActorUserID, CorrelationID: corr, From: f.From, To: f.To}, nil
}
