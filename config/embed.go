// Package config embeds the CustomResourceDefinitions that `make generate`
// writes to config/crd, so `myriad up` installs exactly what is checked in.
package config

import "embed"

// CRDs holds crd/*.yaml.
//
//go:embed crd/*.yaml
var CRDs embed.FS
