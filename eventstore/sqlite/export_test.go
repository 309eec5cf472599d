package sqlite

import "context"

// ExecOnWriter runs q on the store's one write connection, between two
// commits, for tests that make SQLite itself refuse writes (PRAGMA
// max_page_count, query_only).
func ExecOnWriter(s *Store, q string) error {
	w, release := heldWriter(s)
	defer release()
	if w.conn == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	_, err := w.conn.ExecContext(context.Background(), q)
	return err
}

// WriterPragma reads PRAGMA name on the store's write connection.
func WriterPragma(s *Store, name string) (int, error) {
	w, release := heldWriter(s)
	defer release()
	if w.conn == nil {
		if err := w.open(); err != nil {
			return 0, err
		}
	}
	var v int
	err := w.conn.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v)
	return v, err
}

// heldWriter is the store's writer with its turn held, so that no append
// commits meanwhile: for tests that drive its batches directly, so that
// their makeup is not left to timing. release gives the turn back.
func heldWriter(s *Store) (w *writer, release func()) {
	s.w.turn <- struct{}{}
	return s.w, func() { <-s.w.turn }
}
