package sqlite

// ExecOnWriter runs q on the store's one write connection, for tests that
// make SQLite itself refuse writes (PRAGMA max_page_count, query_only).
func ExecOnWriter(s *Store, q string) error {
	_, err := s.wdb.Exec(q)
	return err
}

// WriterPragma reads PRAGMA name on the store's write connection.
func WriterPragma(s *Store, name string) (int, error) {
	var v int
	err := s.wdb.QueryRow("PRAGMA " + name).Scan(&v)
	return v, err
}
