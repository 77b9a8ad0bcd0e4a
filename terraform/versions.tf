terraform {
  # 1.5+ for `check` blocks and stable `templatefile` behaviour; tested with 1.11.
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    hcloud = {
      source  = "hetznercloud/hcloud"
      version = "~> 1.49"
    }
    # Pinned to the 4.x line: its `cloudflare_record` / `cloudflare_r2_bucket`
    # schema is what this configuration uses. 5.x renames and reshapes both.
    cloudflare = {
      source  = "cloudflare/cloudflare"
      version = "~> 4.52"
    }
    local = {
      source  = "hashicorp/local"
      version = "~> 2.5"
    }
  }
}
