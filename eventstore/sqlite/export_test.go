package sqlite

// ExecOnWriter runs q on the store's one write connection, for tests that
// make SQLite itself refuse writes (PRAGMA max_page_count, query_only).
func ExecOnWriter(s *Store, q string) error {
	_, err := s.wdb.Exec(q)
	return err
}
