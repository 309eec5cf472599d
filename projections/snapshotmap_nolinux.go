//go:build unix && !linux

package projections

const mapPopulate = 0
