// Package gen holds the code oapi-codegen generates from openapi.yaml. Never edit it by hand:
// change openapi.yaml and run `make generate`.
package gen

//go:generate go tool oapi-codegen -config types.cfg.yaml ../openapi.yaml
//go:generate go tool oapi-codegen -config server.cfg.yaml ../openapi.yaml
//go:generate go tool oapi-codegen -config spec.cfg.yaml ../openapi.yaml
//go:generate go tool oapi-codegen -config client.cfg.yaml ../openapi.yaml
