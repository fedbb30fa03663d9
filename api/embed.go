// Package api holds the OpenAPI contract the phone app is generated from.
package api

import _ "embed"

// Spec is api/openapi.yaml, served at /openapi.yaml.
//
//go:embed openapi.yaml
var Spec []byte
