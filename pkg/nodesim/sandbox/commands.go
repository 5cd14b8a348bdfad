package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
)

// The programs a simulated container has, besides the interpreter's own
// builtins (echo, printf, test, [, true, false, cd, pwd, read, exit, ...).
// They act on the container's View and nothing else.
var programs = []string{"cat", "cp", "date", "dd", "env", "find", "hostname", "ls", "mkdir", "mv", "printenv", "rm", "rmdir", "sh", "sleep", "touch"}

// executor runs programs for one interpreter.
type executor struct {
	c      *Container
	budget *budget
	depth  int
}

// io is one program's standard streams and working directory.
type procIO struct {
	ctx    context.Context
	dir    string
	env    expand.Environ
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func (p procIO) errf(name, format string, a ...any) {
	fmt.Fprintf(p.stderr, name+": "+format+"\n", a...)
}

func (x *executor) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	p := procIO{ctx: ctx, dir: hc.Dir, env: hc.Env, stdin: hc.Stdin, stdout: hc.Stdout, stderr: hc.Stderr}
	if p.stdin == nil {
		p.stdin = strings.NewReader("")
	}
	if name, ok := strings.CutPrefix(args[0], lookupPrefix); ok {
		return x.lookup(ctx, hc, name, args[1:], p)
	}
	name := path.Base(args[0])
	if interp.IsBuiltin(name) && strings.Contains(args[0], "/") {
		// /bin/echo, /usr/bin/test: the same as the builtin.
		return hc.Builtin(ctx, append([]string{name}, args[1:]...))
	}
	code := x.program(name, args[1:], p)
	if code != 0 {
		return interp.ExitStatus(code)
	}
	return nil
}

// program runs one program and returns its exit status.
func (x *executor) program(name string, args []string, p procIO) int {
	v := x.c.Files
	switch name {
	case "cat":
		return x.cat(args, p)
	case "touch":
		return eachPath(name, args, p, func(q string) error { return v.Touch(q) })
	case "mkdir":
		parents, paths := flags(args, "p")
		return eachPath(name, paths, p, func(q string) error {
			if !parents["p"] {
				return v.Mkdir(q)
			}
			return mkdirAll(v, q)
		})
	case "rm":
		f, paths := flags(args, "rRfv")
		return eachPath(name, paths, p, func(q string) error {
			err := v.Remove(q, f["r"] || f["R"])
			if f["f"] && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err == nil && f["v"] {
				fmt.Fprintf(p.stdout, "removed '%s'\n", q)
			}
			return err
		})
	case "rmdir":
		return eachPath(name, args, p, func(q string) error {
			if info, err := v.Stat(q); err == nil && !info.IsDir() {
				return pathError("rmdir", q, syscall.ENOTDIR)
			}
			return v.Remove(q, false)
		})
	case "mv", "cp":
		return x.move(name, args, p)
	case "dd":
		return x.dd(args, p)
	case "ls":
		return x.ls(args, p)
	case "find":
		return x.find(args, p)
	case "env", "printenv":
		return x.env(name, args, p)
	case "hostname":
		fmt.Fprintln(p.stdout, x.c.Hostname)
		return 0
	case "date":
		fmt.Fprintln(p.stdout, x.c.Clock.Now().UTC().Format("Mon Jan _2 15:04:05 MST 2006"))
		return 0
	case "sleep":
		return x.sleep(args, p)
	case "sh", "bash", "ash", "dash":
		if x.depth >= maxDepth {
			p.errf(name, "too many nested shells")
			return 126
		}
		return run(p.ctx, x.c, append([]string{name}, args...), p.stdin, p.stdout, p.stderr, x.budget, x.depth+1)
	}
	if x.c.Lenient {
		return 0
	}
	p.errf(name, "command not found (a simulated container has no executables; it has the shell's builtins and %s)", strings.Join(programs, ", "))
	return 127
}

// lookup answers type, command and hash from the sandbox's programs.
func (x *executor) lookup(ctx context.Context, hc interp.HandlerContext, name string, args []string, p procIO) error {
	verbose := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		verbose = verbose || args[0] == "-v" || args[0] == "-V"
		args = args[1:]
	}
	if name == "command" && !verbose {
		if len(args) == 0 {
			return nil
		}
		return x.exec(ctx, args)
	}
	code := 0
	for _, a := range args {
		switch base := path.Base(a); {
		case interp.IsBuiltin(base):
			if name == "type" {
				fmt.Fprintf(p.stdout, "%s is a shell builtin\n", a)
			} else if name == "command" {
				fmt.Fprintln(p.stdout, a)
			}
		case slices.Contains(programs, base):
			if name == "type" {
				fmt.Fprintf(p.stdout, "%s is /bin/%s\n", a, base)
			} else if name == "command" {
				fmt.Fprintln(p.stdout, "/bin/"+base)
			}
		default:
			if name == "type" {
				p.errf(name, "%s: not found", a)
			}
			code = 1
		}
	}
	_ = hc
	if code != 0 {
		return interp.ExitStatus(code)
	}
	return nil
}

// flags splits single-letter flags (any of allowed, possibly combined as
// -rf) from operands; "--" ends flags.
func flags(args []string, allowed string) (map[string]bool, []string) {
	set := map[string]bool{}
	var rest []string
	for i, a := range args {
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], allowed) == "" {
			for _, c := range a[1:] {
				set[string(c)] = true
			}
			continue
		}
		rest = append(rest, a)
	}
	return set, rest
}

// eachPath applies do to each operand, reporting failures as coreutils
// does and exiting 1 if any failed.
func eachPath(name string, args []string, p procIO, do func(string) error) int {
	if len(args) == 0 {
		p.errf(name, "missing operand")
		return 1
	}
	code := 0
	for _, a := range args {
		if err := do(abs(p.dir, a)); err != nil {
			p.errf(name, "cannot %s '%s': %s", verb(name), a, describe(err))
			code = 1
		}
	}
	return code
}

func verb(name string) string {
	switch name {
	case "rm":
		return "remove"
	case "mkdir":
		return "create directory"
	case "rmdir":
		return "remove directory"
	}
	return name
}

// describe is an error as a C library's strerror words it.
func describe(err error) string {
	var ns *NotSimulatedError
	if errors.As(err, &ns) {
		return ns.Error()
	}
	if e, ok := errno(err); ok {
		s := e.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, fs.ErrExist):
		return "File exists"
	}
	return err.Error()
}

func mkdirAll(v *View, q string) error {
	if info, err := v.Stat(q); err == nil {
		if info.IsDir() {
			return nil
		}
		return pathError("mkdir", q, syscall.ENOTDIR)
	}
	if parent := path.Dir(q); parent != q {
		if err := mkdirAll(v, parent); err != nil {
			return err
		}
	}
	return v.Mkdir(q)
}

func (x *executor) cat(args []string, p procIO) int {
	if len(args) == 0 {
		args = []string{"-"}
	}
	code := 0
	for _, a := range args {
		if a == "-" {
			if _, err := io.Copy(p.stdout, p.stdin); err != nil {
				code = 1
			}
			continue
		}
		data, err := x.c.Files.ReadFile(abs(p.dir, a))
		if err != nil {
			p.errf("cat", "%s: %s", a, describe(err))
			code = 1
			continue
		}
		_, _ = p.stdout.Write(data)
	}
	return code
}

// move is mv and cp: SOURCE... DEST, into DEST when it is a directory.
func (x *executor) move(name string, args []string, p procIO) int {
	f, ops := flags(args, "fvrRaip")
	if len(ops) < 2 {
		p.errf(name, "missing destination file operand after '%s'", strings.Join(ops, " "))
		return 1
	}
	v := x.c.Files
	dst := abs(p.dir, ops[len(ops)-1])
	info, err := v.Stat(dst)
	intoDir := err == nil && info.IsDir()
	if len(ops) > 2 && !intoDir {
		p.errf(name, "target '%s' is not a directory", ops[len(ops)-1])
		return 1
	}
	code := 0
	for _, a := range ops[:len(ops)-1] {
		src := abs(p.dir, a)
		to := dst
		if intoDir {
			to = path.Join(dst, path.Base(src))
		}
		var err error
		if name == "mv" {
			err = v.Rename(src, to)
		} else {
			if si, serr := v.Stat(src); serr == nil && si.IsDir() && !f["r"] && !f["R"] && !f["a"] {
				p.errf(name, "-r not specified; omitting directory '%s'", a)
				code = 1
				continue
			}
			err = v.Copy(src, to)
		}
		if err != nil {
			p.errf(name, "cannot %s '%s': %s", map[string]string{"mv": "move", "cp": "copy"}[name], a, describe(err))
			code = 1
			continue
		}
		if f["v"] {
			if name == "mv" {
				fmt.Fprintf(p.stdout, "renamed '%s' -> '%s'\n", src, to)
			} else {
				fmt.Fprintf(p.stdout, "'%s' -> '%s'\n", src, to)
			}
		}
	}
	return code
}

// dd copies if= (or stdin) to of= (or stdout) in count blocks of bs bytes,
// and reports as GNU dd does.
func (x *executor) dd(args []string, p procIO) int {
	in, out, bs, count := "", "", int64(512), int64(-1)
	for _, a := range args {
		k, val, ok := strings.Cut(a, "=")
		if !ok {
			p.errf("dd", "unrecognized operand '%s'", a)
			return 1
		}
		var err error
		switch k {
		case "if":
			in = val
		case "of":
			out = val
		case "bs":
			bs, err = size(val)
		case "count":
			count, err = strconv.ParseInt(val, 10, 64)
		case "conv", "status", "iflag", "oflag":
		default:
			p.errf("dd", "unrecognized operand '%s'", a)
			return 1
		}
		if err != nil || bs <= 0 {
			p.errf("dd", "invalid number: '%s'", val)
			return 1
		}
	}
	var src io.Reader = p.stdin
	if in != "" {
		q := abs(p.dir, in)
		if q == devZero {
			src = zeros{}
		} else {
			data, err := x.c.Files.ReadFile(q)
			if err != nil {
				p.errf("dd", "failed to open '%s': %s", in, describe(err))
				return 1
			}
			src = strings.NewReader(string(data))
		}
	}
	if count >= 0 {
		src = io.LimitReader(src, count*bs)
	} else if in == "" || abs(p.dir, in) == devZero {
		src = io.LimitReader(src, x.c.Files.files.perTree+1)
	}
	data, err := io.ReadAll(src)
	if err != nil {
		p.errf("dd", "error reading: %v", err)
		return 1
	}
	if out == "" {
		_, _ = p.stdout.Write(data)
	} else if err := x.c.Files.WriteFile(abs(p.dir, out), data, false); err != nil {
		p.errf("dd", "failed to open '%s': %s", out, describe(err))
		return 1
	}
	n := int64(len(data))
	full, part := n/bs, 0
	if n%bs != 0 {
		part = 1
	}
	fmt.Fprintf(p.stderr, "%d+%d records in\n%d+%d records out\n%d bytes copied, 0.000100 s, %s/s\n", full, part, full, part, n, human(n*10000))
	return 0
}

// size parses dd's sizes: 512, 1K, 4k, 1M, 1G.
func size(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"), strings.HasSuffix(s, "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

func human(n int64) string {
	units := []string{"B", "kB", "MB", "GB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

func (x *executor) ls(args []string, p procIO) int {
	f, ops := flags(args, "1aAdhilRt")
	if len(ops) == 0 {
		ops = []string{"."}
	}
	code := 0
	for i, a := range ops {
		q := abs(p.dir, a)
		info, err := x.c.Files.Stat(q)
		if err != nil {
			p.errf("ls", "cannot access '%s': %s", a, describe(err))
			code = 2
			continue
		}
		entries := []fs.FileInfo{info}
		names := []string{a}
		if info.IsDir() && !f["d"] {
			if len(ops) > 1 {
				if i > 0 {
					fmt.Fprintln(p.stdout)
				}
				fmt.Fprintf(p.stdout, "%s:\n", a)
			}
			entries, err = x.c.Files.ReadDir(q)
			if err != nil {
				p.errf("ls", "cannot open directory '%s': %s", a, describe(err))
				code = 2
				continue
			}
			names = names[:0]
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if f["l"] {
				fmt.Fprintf(p.stdout, "total %d\n", len(entries)*4)
			}
		}
		for j, e := range entries {
			line := names[j]
			if f["l"] {
				sz := strconv.FormatInt(e.Size(), 10)
				if e.IsDir() {
					sz = "4096"
				}
				if f["h"] && !e.IsDir() {
					sz = strings.ReplaceAll(human(e.Size()), " ", "")
				}
				line = fmt.Sprintf("%s 1 root root %5s %s %s", e.Mode().String(), sz, e.ModTime().UTC().Format("Jan _2 15:04"), names[j])
			}
			if f["i"] {
				line = fmt.Sprintf("%d %s", inode(path.Join(q, e.Name())), line)
			}
			fmt.Fprintln(p.stdout, line)
		}
	}
	return code
}

// inode is a stable made-up inode number for a path.
func inode(p string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(p); i++ {
		h = (h ^ uint32(p[i])) * 16777619
	}
	return h%9_000_000 + 1_000_000
}

// find lists paths below each start point, optionally only those whose
// name matches -name PATTERN and of -type f or d.
func (x *executor) find(args []string, p procIO) int {
	var starts []string
	namePat, kind := "", ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case (a == "-name" || a == "-type") && i+1 < len(args):
			if a == "-name" {
				namePat = args[i+1]
			} else {
				kind = args[i+1]
			}
			i++
		case strings.HasPrefix(a, "-"):
			p.errf("find", "unknown predicate '%s' (the simulated find knows -name and -type)", a)
			return 1
		default:
			starts = append(starts, a)
		}
	}
	if len(starts) == 0 {
		starts = []string{"."}
	}
	code := 0
	var walk func(shown, q string, info fs.FileInfo)
	walk = func(shown, q string, info fs.FileInfo) {
		match := true
		if namePat != "" {
			match, _ = path.Match(namePat, path.Base(q))
		}
		if kind == "f" && info.IsDir() || kind == "d" && !info.IsDir() {
			match = false
		}
		if match {
			fmt.Fprintln(p.stdout, shown)
		}
		if !info.IsDir() {
			return
		}
		kids, err := x.c.Files.ReadDir(q)
		if err != nil {
			return
		}
		for _, k := range kids {
			walk(path.Join(shown, k.Name()), path.Join(q, k.Name()), k)
		}
	}
	for _, s := range starts {
		q := abs(p.dir, s)
		info, err := x.c.Files.Stat(q)
		if err != nil {
			p.errf("find", "'%s': %s", s, describe(err))
			code = 1
			continue
		}
		walk(s, q, info)
	}
	return code
}

func (x *executor) env(name string, args []string, p procIO) int {
	var pairs []string
	vars := map[string]string{}
	p.env.Each(func(k string, vr expand.Variable) bool {
		if vr.Exported && vr.IsSet() {
			if _, seen := vars[k]; !seen {
				pairs = append(pairs, k)
			}
			vars[k] = vr.String()
		}
		return true
	})
	if name == "printenv" && len(args) > 0 {
		code := 0
		for _, a := range args {
			if v, ok := vars[a]; ok {
				fmt.Fprintln(p.stdout, v)
			} else {
				code = 1
			}
		}
		return code
	}
	if len(args) > 0 {
		p.errf(name, "running a command under env is not simulated")
		return 125
	}
	for _, n := range x.c.Notes {
		p.errf(name, "%s", n)
	}
	sort.Strings(pairs)
	for _, k := range pairs {
		fmt.Fprintf(p.stdout, "%s=%s\n", k, vars[k])
	}
	return 0
}

func (x *executor) sleep(args []string, p procIO) int {
	if len(args) != 1 {
		p.errf("sleep", "usage: sleep SECONDS")
		return 1
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		secs, ferr := strconv.ParseFloat(args[0], 64)
		if ferr != nil || secs < 0 {
			p.errf("sleep", "invalid time interval '%s'", args[0])
			return 1
		}
		d = time.Duration(secs * float64(time.Second))
	}
	select {
	case <-p.ctx.Done():
		return 130
	case <-x.c.Clock.After(d):
		return 0
	}
}
