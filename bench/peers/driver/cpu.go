package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Linux reports utime and stime in USER_HZ clock ticks, 100 per second on every architecture Go
// targets (sysconf(_SC_CLK_TCK) would need cgo).
const ticksPerSecond = 100

// procStat reads a process's parent and its CPU time (utime + stime) from /proc/PID/stat. The fields
// after the command name, which may itself hold spaces and parentheses, start after the last ')'.
func procStat(pid int) (ppid int, ticks int64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStat(string(raw))
}

func parseStat(stat string) (ppid int, ticks int64, err error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, 0, fmt.Errorf("no command name in %q", stat)
	}
	fields := strings.Fields(stat[end+1:])
	// fields[0] is the state (field 3): ppid is field 4, utime 14, stime 15.
	if len(fields) < 13 {
		return 0, 0, fmt.Errorf("too few fields in %q", stat)
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return 0, 0, err
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bad utime/stime in %q", stat)
	}
	return ppid, utime + stime, nil
}

// serverTicks sums the CPU ticks of the given processes and all their descendants (a server that
// forks workers, as nginx does or a hub might, is measured whole), by process id.
func serverTicks(roots []int) (map[int]int64, error) {
	entries, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	ticks := map[int]int64{}
	for _, dir := range entries {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		ppid, t, err := procStat(pid)
		if err != nil {
			continue // it exited while we looked
		}
		children[ppid] = append(children[ppid], pid)
		ticks[pid] = t
	}
	out := map[int]int64{}
	queue := append([]int(nil), roots...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		t, ok := ticks[pid]
		if !ok {
			if len(out) == 0 && pid == roots[0] {
				return nil, fmt.Errorf("process %d is not running", pid)
			}
			continue
		}
		out[pid] = t
		queue = append(queue, children[pid]...)
	}
	return out, nil
}

// cpuMs is the CPU time the processes used between two readings; one that appeared in between
// counts from zero.
func cpuMs(before, after map[int]int64) float64 {
	var sum int64
	for pid, t := range after {
		sum += t - before[pid]
	}
	return float64(sum) * 1000 / ticksPerSecond
}

func selfCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
