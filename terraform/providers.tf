# Both tokens come from the environment so they never land in state-adjacent
# files or in version control:
#   export HCLOUD_TOKEN=...          (Hetzner Cloud project, Read & Write)
#   export CLOUDFLARE_API_TOKEN=...  (Zone:Read, DNS:Edit on the zone; Account: R2 Storage:Edit)
provider "hcloud" {}

provider "cloudflare" {}
