package install

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// NginxT runs `nginx -t` (with -c conf when conf is not ""); the error is
// nginx's own output.
func NginxT(ctx context.Context, binary, conf string) error {
	args := []string{"-t", "-q"}
	if conf != "" {
		args = append(args, "-c", conf)
	}
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", binary, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Reload reloads nginx: through systemd when systemd runs it, else with
// nginx -s reload.
func Reload(ctx context.Context, binary, conf string) (string, error) {
	if exec.CommandContext(ctx, "systemctl", "is-active", "--quiet", "nginx").Run() == nil {
		out, err := exec.CommandContext(ctx, "systemctl", "reload", "nginx").CombinedOutput()
		if err != nil {
			return "systemctl reload nginx", fmt.Errorf("systemctl reload nginx: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return "systemctl reload nginx", nil
	}
	args := []string{"-s", "reload"}
	if conf != "" {
		args = append(args, "-c", conf)
	}
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	if err != nil {
		return binary + " -s reload", fmt.Errorf("%s %s: %v: %s", binary, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return binary + " -s reload", nil
}
