// Package benchcpu reports a benchmark's process CPU time per operation (cpu-ns/op). On a shared
// machine wall-clock ns/op counts the time other processes had the cores; process CPU time does
// not. It is used by benchmarks only, in any package of the module.
package benchcpu
