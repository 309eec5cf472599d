package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/esdb"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
)

// StoreConfig says which event store to open: EventStoreDB when URL is
// set, else the embedded file EventsDB.
type StoreConfig struct {
	EventsDB string
	URL      string
}

// Name describes the store for log lines and messages.
func (s StoreConfig) Name() string {
	if s.URL != "" {
		return "EventStoreDB"
	}
	return "embedded SQLite file " + s.EventsDB
}

// OpenStore opens the configured store, the server's and the command-line
// modes' alike. readOnly opens the embedded file without the writer's
// lock, so a reader runs beside a server that writes it; opts tune the
// embedded store's writer.
func OpenStore(ctx context.Context, s StoreConfig, readOnly bool, opts ...sqlite.Option) (eventstore.Store, error) {
	if s.URL != "" {
		st, err := esdb.Open(ctx, s.URL)
		if err != nil {
			return nil, fmt.Errorf("open EventStoreDB: %w", err)
		}
		return st, nil
	}
	if readOnly {
		st, err := sqlite.OpenReadOnly(s.EventsDB)
		if err != nil {
			return nil, fmt.Errorf("open %s read-only: %w", s.EventsDB, err)
		}
		return st, nil
	}
	st, err := sqlite.Open(s.EventsDB, opts...)
	if errors.Is(err, eventstore.ErrLocked) {
		return nil, fmt.Errorf("%s is held by another process (is the server running? stop it first): %w", s.EventsDB, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.EventsDB, err)
	}
	return st, nil
}
