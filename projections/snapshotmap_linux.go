package projections

import "syscall"

// mapPopulate maps every page at once, one system call instead of a fault
// per page as the restore reaches it.
const mapPopulate = syscall.MAP_POPULATE
