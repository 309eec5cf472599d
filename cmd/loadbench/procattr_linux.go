package main

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes the kernel kill a child server if loadbench dies
// without stopping it, so that no server is left holding a port and a core.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
