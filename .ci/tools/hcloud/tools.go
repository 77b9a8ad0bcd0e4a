//go:build tools

// Package tools pins the Terraform provider hetznercloud/hcloud 1.68.0 so
// .ci/terraform-plan can build it offline from the module cache (`go
// install …@v1.68.0` fails here: the proxy refuses the module's version
// list, which install reads for deprecations; a pinned module builds):
//
//	go build -o terraform-provider-hcloud_v1.68.0 github.com/hetznercloud/terraform-provider-hcloud
package tools

import _ "github.com/hetznercloud/terraform-provider-hcloud"
