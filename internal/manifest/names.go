package manifest

// FileName is the built file's name, the NGINX upgrade guide's
// convention: ngx_http_foo_module_1.26.3.so.
func FileName(module, nginx string) string {
	return module + "_" + nginx + ".so"
}

// AssetName is the release asset's name: the file name qualified by the
// distribution and architecture it was built on.
func AssetName(module, nginx, distro, arch string) string {
	return module + "_" + nginx + "_" + distro + "_" + arch + ".so"
}

// CellFileName is the name of a build cell's manifest in the output
// directory.
func CellFileName(nginx, distro, arch string) string {
	return "manifest-" + nginx + "-" + distro + "-" + arch + ".json"
}
