# Hetzner Cloud: one private network, one firewall, one spread placement group,
# managers and workers, and the data volumes (PostgreSQL with Redis, SeaweedFS,
# optionally the PostgreSQL standby); the load balancer is in loadbalancer.tf. Ansible (../ansible) takes over from
# the inventory written in inventory.tf.

locals {
  labels = {
    project    = var.project_name
    managed-by = "terraform"
  }

  # Stable, predictable private addresses: managers .10+, workers .100+.
  manager_private_ips = [for i in range(var.manager_count) : cidrhost(var.subnet_ip_range, 10 + i)]
  worker_private_ips  = [for i in range(var.worker_count) : cidrhost(var.subnet_ip_range, 100 + i)]

  # Who may open 80/443 on a server's public interface.
  web_sources = var.dns_proxied ? var.cloudflare_ip_ranges : ["0.0.0.0/0", "::/0"]

  cloud_init = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    admin_username  = var.admin_username
    ssh_public_keys = values(var.ssh_public_keys)
  })
}

resource "hcloud_ssh_key" "admin" {
  for_each = var.ssh_public_keys

  name       = "${var.project_name}-${each.key}"
  public_key = each.value
  labels     = local.labels
}

# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------

resource "hcloud_network" "private" {
  name     = "${var.project_name}-private"
  ip_range = var.network_ip_range
  labels   = local.labels
}

resource "hcloud_network_subnet" "servers" {
  network_id   = hcloud_network.private.id
  type         = "cloud"
  network_zone = var.network_zone
  ip_range     = var.subnet_ip_range
}

# Hetzner Cloud firewalls filter the public interfaces only; traffic on the
# private network is not filtered by them. The Swarm rules below therefore state
# intent (never from the internet) and the host firewall (ufw, ansible role
# `base`) enforces the same ports on the private interface.
resource "hcloud_firewall" "cluster" {
  name   = "${var.project_name}-cluster"
  labels = local.labels

  # Public traffic reaches Traefik through the load balancer, which talks to
  # the managers over the private network (not filtered here). These rules
  # are for Cloudflare reaching a server directly (a manager's address put
  # in DNS while the load balancer is replaced): only Cloudflare's ranges
  # when the records are proxied, anyone when they are not.
  rule {
    description = "HTTP to Traefik (Cloudflare only when proxied)"
    direction   = "in"
    protocol    = "tcp"
    port        = "80"
    source_ips  = local.web_sources
  }

  rule {
    description = "HTTPS to Traefik (Cloudflare only when proxied)"
    direction   = "in"
    protocol    = "tcp"
    port        = "443"
    source_ips  = local.web_sources
  }

  rule {
    description = "SSH from administrators"
    direction   = "in"
    protocol    = "tcp"
    port        = "22"
    source_ips  = var.ssh_allowed_cidrs
  }

  rule {
    description = "ICMP (path MTU discovery, ping)"
    direction   = "in"
    protocol    = "icmp"
    source_ips  = ["0.0.0.0/0", "::/0"]
  }

  rule {
    description = "Swarm cluster management"
    direction   = "in"
    protocol    = "tcp"
    port        = "2377"
    source_ips  = [var.network_ip_range]
  }

  rule {
    description = "Swarm node gossip (tcp)"
    direction   = "in"
    protocol    = "tcp"
    port        = "7946"
    source_ips  = [var.network_ip_range]
  }

  rule {
    description = "Swarm node gossip (udp)"
    direction   = "in"
    protocol    = "udp"
    port        = "7946"
    source_ips  = [var.network_ip_range]
  }

  rule {
    description = "Swarm overlay network (VXLAN)"
    direction   = "in"
    protocol    = "udp"
    port        = "4789"
    source_ips  = [var.network_ip_range]
  }
}

resource "hcloud_placement_group" "spread" {
  name   = "${var.project_name}-spread"
  type   = "spread"
  labels = local.labels

  lifecycle {
    precondition {
      condition     = var.manager_count + var.worker_count <= 10
      error_message = "A spread placement group holds at most 10 servers: manager_count + worker_count must be <= 10."
    }
  }
}

# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

resource "hcloud_server" "manager" {
  count = var.manager_count

  name               = format("%s-manager-%d", var.project_name, count.index + 1)
  server_type        = var.manager_server_type
  image              = var.image
  location           = var.location
  ssh_keys           = [for k in hcloud_ssh_key.admin : k.id]
  placement_group_id = hcloud_placement_group.spread.id
  firewall_ids       = [hcloud_firewall.cluster.id]
  user_data          = local.cloud_init
  delete_protection  = var.delete_protection
  rebuild_protection = var.delete_protection

  labels = merge(local.labels, {
    role = "manager"
  })

  public_net {
    ipv4_enabled = true
    ipv6_enabled = true
  }

  lifecycle {
    # Changing these would rebuild a running Swarm node; roll nodes deliberately instead.
    ignore_changes = [user_data, ssh_keys, image]
  }
}

resource "hcloud_server" "worker" {
  count = var.worker_count

  name               = format("%s-worker-%d", var.project_name, count.index + 1)
  server_type        = var.worker_server_type
  image              = var.image
  location           = var.location
  ssh_keys           = [for k in hcloud_ssh_key.admin : k.id]
  placement_group_id = hcloud_placement_group.spread.id
  firewall_ids       = [hcloud_firewall.cluster.id]
  user_data          = local.cloud_init
  delete_protection  = var.delete_protection
  rebuild_protection = var.delete_protection

  labels = merge(local.labels, {
    role = "worker"
  })

  public_net {
    ipv4_enabled = true
    ipv6_enabled = true
  }

  lifecycle {
    ignore_changes = [user_data, ssh_keys, image]
  }
}

resource "hcloud_server_network" "manager" {
  count = var.manager_count

  server_id = hcloud_server.manager[count.index].id
  subnet_id = hcloud_network_subnet.servers.id
  ip        = local.manager_private_ips[count.index]
}

resource "hcloud_server_network" "worker" {
  count = var.worker_count

  server_id = hcloud_server.worker[count.index].id
  subnet_id = hcloud_network_subnet.servers.id
  ip        = local.worker_private_ips[count.index]
}

# ---------------------------------------------------------------------------
# Volumes: mounted by Ansible (role base) by device id so the mount point does
# not depend on Hetzner's automount naming. Without encryption Hetzner formats
# them (ext4); with volume_encryption they are created blank and Ansible puts
# LUKS under the filesystem. `format` only matters at creation: changing
# volume_encryption later never touches an existing volume (ignore_changes),
# and Ansible refuses to encrypt one that already holds a filesystem.
# ---------------------------------------------------------------------------

locals {
  volume_format = var.volume_encryption ? null : "ext4"

  # The standby goes on the last worker: another host of the spread placement
  # group than the primary (first manager).
  standby_worker_index = var.worker_count - 1
}

resource "hcloud_volume" "postgres" {
  name              = "${var.project_name}-postgres"
  size              = var.postgres_volume_size
  location          = var.location
  format            = local.volume_format
  delete_protection = var.delete_protection
  labels            = merge(local.labels, { purpose = "postgres" })

  lifecycle {
    ignore_changes = [format]
  }
}

resource "hcloud_volume_attachment" "postgres" {
  volume_id = hcloud_volume.postgres.id
  server_id = hcloud_server.manager[0].id
  automount = false
}

resource "hcloud_volume" "seaweedfs" {
  name              = "${var.project_name}-seaweedfs"
  size              = var.seaweedfs_volume_size
  location          = var.location
  format            = local.volume_format
  delete_protection = var.delete_protection
  labels            = merge(local.labels, { purpose = "seaweedfs" })

  lifecycle {
    ignore_changes = [format]
  }
}

resource "hcloud_volume_attachment" "seaweedfs" {
  volume_id = hcloud_volume.seaweedfs.id
  server_id = hcloud_server.worker[0].id
  automount = false
}

# PostgreSQL streaming replica (docs/failover.md).
resource "hcloud_volume" "postgres_standby" {
  count = var.postgres_standby ? 1 : 0

  name              = "${var.project_name}-postgres-standby"
  size              = var.postgres_standby_volume_size
  location          = var.location
  format            = local.volume_format
  delete_protection = var.delete_protection
  labels            = merge(local.labels, { purpose = "postgres-standby" })

  lifecycle {
    ignore_changes = [format]

    precondition {
      condition     = var.postgres_standby_volume_size >= var.postgres_volume_size
      error_message = "postgres_standby_volume_size must be at least postgres_volume_size: the standby holds a full copy."
    }
  }
}

resource "hcloud_volume_attachment" "postgres_standby" {
  count = var.postgres_standby ? 1 : 0

  volume_id = hcloud_volume.postgres_standby[0].id
  server_id = hcloud_server.worker[local.standby_worker_index].id
  automount = false
}
