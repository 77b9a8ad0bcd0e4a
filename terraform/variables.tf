# ---------------------------------------------------------------------------
# General
# ---------------------------------------------------------------------------

variable "project_name" {
  description = "Prefix for every resource name and value of the `project` label (lower-case letters, digits, dashes)."
  type        = string
  default     = "concierge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.project_name))
    error_message = "project_name must be 2-20 characters: lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "admin_username" {
  description = "Unprivileged login with password-less sudo that cloud-init creates on every server; Ansible connects as this user (root SSH login is disabled by the base role)."
  type        = string
  default     = "deploy"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,30}$", var.admin_username)) && var.admin_username != "root"
    error_message = "admin_username must be a valid Linux user name and not root."
  }
}

variable "ssh_public_keys" {
  description = "SSH public keys that may log in, as a map of key name => public key (OpenSSH format). Uploaded to Hetzner and installed for admin_username."
  type        = map(string)

  validation {
    condition     = length(var.ssh_public_keys) > 0 && alltrue([for k in values(var.ssh_public_keys) : can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp[0-9]+|sk-ssh-ed25519@openssh.com) ", k))])
    error_message = "Give at least one key; every value must be an OpenSSH public key line (ssh-ed25519 AAAA... comment)."
  }
}

variable "ssh_allowed_cidrs" {
  description = "Source ranges allowed to reach SSH (22/tcp), e.g. the office and CI egress addresses. IPv4 and IPv6 CIDRs."
  type        = list(string)

  validation {
    condition     = length(var.ssh_allowed_cidrs) > 0 && alltrue([for c in var.ssh_allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "ssh_allowed_cidrs must hold at least one valid CIDR (use 203.0.113.7/32 for a single address)."
  }
}

# ---------------------------------------------------------------------------
# Hetzner Cloud: placement and network
# ---------------------------------------------------------------------------

variable "location" {
  description = "Hetzner Cloud location for servers and volumes (volumes must live in the same location as the server they attach to)."
  type        = string
  default     = "fsn1"

  validation {
    condition     = contains(["fsn1", "nbg1", "hel1", "ash", "hil", "sin"], var.location)
    error_message = "location must be one of fsn1, nbg1, hel1, ash, hil, sin."
  }
}

variable "network_zone" {
  description = "Network zone of the private subnet; must contain `location` (eu-central for fsn1/nbg1/hel1, us-east for ash, us-west for hil, ap-southeast for sin)."
  type        = string
  default     = "eu-central"

  validation {
    condition     = contains(["eu-central", "us-east", "us-west", "ap-southeast"], var.network_zone)
    error_message = "network_zone must be one of eu-central, us-east, us-west, ap-southeast."
  }
}

variable "network_ip_range" {
  description = "IPv4 range of the private network. Swarm control and overlay traffic (2377, 7946, 4789) is only allowed from here."
  type        = string
  default     = "10.10.0.0/16"

  validation {
    condition     = can(cidrhost(var.network_ip_range, 0)) && can(regex("^(10\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|192\\.168\\.)", var.network_ip_range))
    error_message = "network_ip_range must be an RFC 1918 IPv4 CIDR such as 10.10.0.0/16."
  }
}

variable "subnet_ip_range" {
  description = "IPv4 range of the servers' subnet inside network_ip_range. Managers get .10, .11, ...; workers .100, .101, ..."
  type        = string
  default     = "10.10.1.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_ip_range, 0)) && tonumber(split("/", var.subnet_ip_range)[1]) <= 24
    error_message = "subnet_ip_range must be a valid IPv4 CIDR of /24 or larger."
  }
}

variable "image" {
  description = "Hetzner system image for all servers. The Ansible roles target Debian."
  type        = string
  default     = "debian-12"

  validation {
    condition     = contains(["debian-12", "debian-13"], var.image)
    error_message = "image must be debian-12 or debian-13 (the Ansible roles are written for Debian)."
  }
}

# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

variable "manager_count" {
  description = "Number of Swarm managers. Use an odd number so Raft keeps a quorum: 3 (the default) survives the loss of one manager. Every manager runs Traefik behind the load balancer and one member of the NATS Streaming cluster; the first also holds the PostgreSQL volume. 1 is a single point of failure (docs/high-availability.md)."
  type        = number
  default     = 3

  validation {
    condition     = contains([1, 3, 5], var.manager_count)
    error_message = "manager_count must be 1, 3 or 5."
  }
}

variable "manager_server_type" {
  description = "Hetzner server type of the managers (e.g. cx32, cpx31, cax21). Managers run Traefik, PostgreSQL, Redis, Keycloak and the OpenFaaS control plane."
  type        = string
  default     = "cx32"

  validation {
    condition     = can(regex("^(cx|cpx|cax|ccx)[0-9]{2}$", var.manager_server_type))
    error_message = "manager_server_type must look like cx32, cpx31, cax21 or ccx23."
  }
}

variable "worker_count" {
  description = "Number of Swarm workers. The first worker holds the SeaweedFS volume; functions and Chatwoot spread over all nodes."
  type        = number
  default     = 2

  validation {
    condition     = var.worker_count >= 1 && var.worker_count <= 9 && floor(var.worker_count) == var.worker_count
    error_message = "worker_count must be a whole number from 1 to 9 (a spread placement group holds at most 10 servers)."
  }
}

variable "worker_server_type" {
  description = "Hetzner server type of the workers (e.g. cx32, cpx31, cax21)."
  type        = string
  default     = "cx32"

  validation {
    condition     = can(regex("^(cx|cpx|cax|ccx)[0-9]{2}$", var.worker_server_type))
    error_message = "worker_server_type must look like cx32, cpx31, cax21 or ccx23."
  }
}

variable "load_balancer_type" {
  description = "Hetzner Load Balancer type in front of the managers' Traefik (lb11: 25 targets, 10,000 connections; lb21 and lb31 for more)."
  type        = string
  default     = "lb11"

  validation {
    condition     = contains(["lb11", "lb21", "lb31"], var.load_balancer_type)
    error_message = "load_balancer_type must be lb11, lb21 or lb31."
  }
}

variable "delete_protection" {
  description = "Enable Hetzner delete/rebuild protection on servers and volumes. Turn off only to tear the environment down."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------
# Volumes
# ---------------------------------------------------------------------------

variable "postgres_volume_size" {
  description = "Size in GB of the hcloud volume for PostgreSQL data, attached to the first manager and mounted at /srv/postgres."
  type        = number
  default     = 20

  validation {
    condition     = var.postgres_volume_size >= 10 && var.postgres_volume_size <= 10240
    error_message = "postgres_volume_size must be between 10 and 10240 GB."
  }
}

variable "volume_encryption" {
  description = "Encrypt the data volumes (PostgreSQL, SeaweedFS, Redis, the standby) with LUKS. Volumes are then created blank and Ansible (role base) runs cryptsetup luksFormat with a key from the vault (vault_luks_keys), writes /etc/crypttab and the filesystem. Existing ext4 volumes are never reformatted: docs/deploy.md (Encrypted volumes) describes how to migrate one."
  type        = bool
  default     = false
}

variable "postgres_standby" {
  description = "Run a PostgreSQL streaming replica on the last worker, on its own volume (node label postgres_standby). Ansible's postgres_standby_enabled must agree; see docs/failover.md."
  type        = bool
  default     = false
}

variable "postgres_standby_volume_size" {
  description = "Size in GB of the hcloud volume for the PostgreSQL standby (mounted at /srv/postgres on the last worker); at least postgres_volume_size."
  type        = number
  default     = 20

  validation {
    condition     = var.postgres_standby_volume_size >= 10 && var.postgres_standby_volume_size <= 10240
    error_message = "postgres_standby_volume_size must be between 10 and 10240 GB."
  }
}

variable "seaweedfs_volume_size" {
  description = "Size in GB of the hcloud volume for SeaweedFS (Chatwoot attachments), attached to the first worker and mounted at /srv/seaweedfs."
  type        = number
  default     = 50

  validation {
    condition     = var.seaweedfs_volume_size >= 10 && var.seaweedfs_volume_size <= 10240
    error_message = "seaweedfs_volume_size must be between 10 and 10240 GB."
  }
}

# ---------------------------------------------------------------------------
# Cloudflare
# ---------------------------------------------------------------------------

variable "cloudflare_zone" {
  description = "DNS zone (apex domain) managed in Cloudflare, e.g. example.com. Public hostnames are created under it."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.cloudflare_zone))
    error_message = "cloudflare_zone must be a lower-case domain name such as example.com."
  }
}

variable "cloudflare_account_id" {
  description = "Cloudflare account id (32 hex characters) that owns the R2 bucket."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{32}$", var.cloudflare_account_id))
    error_message = "cloudflare_account_id must be 32 lower-case hex characters."
  }
}

variable "dns_names" {
  description = "Host labels that get an A record (and AAAA) pointing at the load balancer, where Traefik listens on every manager. chatwoot, auth, gateway and files (SeaweedFS's S3 API: the presigned attachment links Chatwoot hands to browsers) are required; netdata serves the monitoring dashboard and console the staff console (oauth2-proxy in front of the console function)."
  type        = set(string)
  default     = ["chatwoot", "auth", "gateway", "files", "netdata", "console"]

  validation {
    condition     = alltrue([for n in ["chatwoot", "auth", "gateway", "files"] : contains(var.dns_names, n)]) && alltrue([for n in var.dns_names : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", n))])
    error_message = "dns_names must contain chatwoot, auth, gateway and files, each a single lower-case DNS label."
  }
}

variable "dns_proxied" {
  description = "Send the public hostnames through Cloudflare's proxy (on by default): the load balancer's addresses stay out of DNS, the servers' firewall admits 80/443 only from cloudflare_ip_ranges, and Traefik answers only requests that come from them. Set the zone's SSL/TLS mode to Full (strict) first (docs/deploy.md). Off: DNS points straight at the load balancer and 80/443 are open to everyone."
  type        = bool
  default     = true
}

# Cloudflare's published ranges (https://www.cloudflare.com/ips-v4 and
# https://www.cloudflare.com/ips-v6; the API's GET /client/v4/ips answers the
# same list). Checked 2026-12; compare with `curl -s https://api.cloudflare.com/client/v4/ips`
# now and then: a range Cloudflare adds is refused by the firewall and by
# Traefik until it is listed here. ansible/roles/platform/defaults/main.yml
# carries the same default for hand-made inventories (.ci/infra-check compares).
variable "cloudflare_ip_ranges" {
  description = "Source ranges of Cloudflare's proxies: with dns_proxied, the only sources the firewall admits on 80/443 and the only clients Traefik serves (the generated inventory hands them to Ansible)."
  type        = list(string)
  default = [
    "173.245.48.0/20",
    "103.21.244.0/22",
    "103.22.200.0/22",
    "103.31.4.0/22",
    "141.101.64.0/18",
    "108.162.192.0/18",
    "190.93.240.0/20",
    "188.114.96.0/20",
    "197.234.240.0/22",
    "198.41.128.0/17",
    "162.158.0.0/15",
    "104.16.0.0/13",
    "104.24.0.0/14",
    "172.64.0.0/13",
    "131.0.72.0/22",
    "2400:cb00::/32",
    "2606:4700::/32",
    "2803:f800::/32",
    "2405:b500::/32",
    "2405:8100::/32",
    "2a06:98c0::/29",
    "2c0f:f248::/32",
  ]

  validation {
    condition     = length(var.cloudflare_ip_ranges) > 0 && alltrue([for c in var.cloudflare_ip_ranges : can(cidrhost(c, 0))])
    error_message = "cloudflare_ip_ranges must hold at least one valid CIDR."
  }
}

variable "r2_bucket_name" {
  description = "Name of the Cloudflare R2 bucket that receives PostgreSQL backups from the backup function."
  type        = string
  default     = "concierge-backups"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.r2_bucket_name))
    error_message = "r2_bucket_name must be 3-63 characters of lower-case letters, digits and dashes."
  }
}

variable "r2_location" {
  description = "Location hint of the R2 bucket (WNAM, ENAM, WEUR, EEUR, APAC). Pick the one nearest to `location`."
  type        = string
  default     = "WEUR"

  validation {
    condition     = contains(["WNAM", "ENAM", "WEUR", "EEUR", "APAC"], var.r2_location)
    error_message = "r2_location must be one of WNAM, ENAM, WEUR, EEUR, APAC."
  }
}

# ---------------------------------------------------------------------------
# Ansible hand-off
# ---------------------------------------------------------------------------

variable "ansible_inventory_path" {
  description = "Where the generated Ansible inventory is written, relative to this directory."
  type        = string
  default     = "../ansible/inventory/hosts.generated.yml"

  validation {
    condition     = can(regex("\\.ya?ml$", var.ansible_inventory_path))
    error_message = "ansible_inventory_path must end in .yml or .yaml."
  }
}
