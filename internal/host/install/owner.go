package install

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Owner names the package that owns a file on a system rooted at root
// ("/" for this host): dpkg's file lists, apk's installed database, or
// rpm -qf. "" when no package manager lists it.
func Owner(ctx context.Context, root, path string) string {
	if p := dpkgOwner(root, path); p != "" {
		return p
	}
	if p := apkOwner(root, path); p != "" {
		return p
	}
	if root == "/" {
		if rpm, err := exec.LookPath("rpm"); err == nil {
			if out, err := exec.CommandContext(ctx, rpm, "-qf", "--qf", "%{NAME}", path).Output(); err == nil {
				return strings.TrimSpace(string(out))
			}
		}
	}
	return ""
}

// dpkgOwner finds path in dpkg's /var/lib/dpkg/info/PKG[:ARCH].list files.
func dpkgOwner(root, path string) string {
	lists, _ := filepath.Glob(filepath.Join(root, "var", "lib", "dpkg", "info", "*.list"))
	for _, l := range lists {
		f, err := os.Open(l)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		found := false
		for sc.Scan() {
			if sc.Text() == path {
				found = true
				break
			}
		}
		f.Close()
		if found {
			name, _, _ := strings.Cut(strings.TrimSuffix(filepath.Base(l), ".list"), ":")
			return name
		}
	}
	return ""
}

// apkOwner finds path in apk's /lib/apk/db/installed (P: package, F:
// directory, R: file in it).
func apkOwner(root, path string) string {
	f, err := os.Open(filepath.Join(root, "lib", "apk", "db", "installed"))
	if err != nil {
		return ""
	}
	defer f.Close()
	want := strings.TrimPrefix(path, "/")
	var pkg, dir string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "P":
			pkg, dir = v, ""
		case "F":
			dir = v
		case "R":
			if dir+"/"+v == want {
				return pkg
			}
		}
	}
	return ""
}
