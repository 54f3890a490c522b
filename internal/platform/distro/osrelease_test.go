package distro

import "testing"

func TestFromOSRelease(t *testing.T) {
	t.Parallel()
	tests := []struct{ text, name string }{
		{"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n", "debian-12"},
		{"ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n", "ubuntu-24.04"},
		{"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n", "rocky-9"},
		{"ID=alpine\nVERSION_ID=3.22.1\n", "alpine-3.22"},
		{"ID=\"amzn\"\nVERSION_ID=\"2023\"\nID_LIKE=\"fedora\"\n", "amzn-2023"},
		{"ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=\"22\"\n", "linuxmint-22"},
	}
	for _, tt := range tests {
		d, err := FromOSRelease(tt.text)
		if err != nil || d.Name != tt.name {
			t.Errorf("FromOSRelease(%q) = %s, %v; want %s", tt.text, d.Name, err, tt.name)
		}
	}
	if _, err := FromOSRelease("ID=plan9\n"); err == nil {
		t.Error("an unknown distribution was accepted")
	}
}
