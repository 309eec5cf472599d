//go:build !linux

package main

import "os/exec"

// setChildAttrs does nothing where the kernel cannot tie a child's life to
// its parent's: loadbench stops its children itself on every normal exit.
func setChildAttrs(cmd *exec.Cmd) {}
