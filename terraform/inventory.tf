# Hands the servers to Ansible: a static YAML inventory with the groups the
# playbook expects (managers, workers) and, per host, the public address to
# connect to, the private address Swarm advertises, node labels for placement
# and the data volumes to mount; for the whole cluster the load balancer's
# private address (the one source Traefik trusts for the PROXY protocol),
# whether the records are proxied by Cloudflare and its ranges, and the
# administrators' source ranges (Keycloak's admin console). ansible/inventory/hcloud.yml documents the
# alternative dynamic inventory (hetzner.hcloud plugin).

locals {
  manager_hosts = {
    for i, s in hcloud_server.manager : s.name => {
      ipv4         = s.ipv4_address
      ipv6         = s.ipv6_address
      private_ipv4 = hcloud_server_network.manager[i].ip
      # Every manager runs Traefik (a load balancer target); the first holds
      # PostgreSQL (its volume) and the central logs (label nats). The three
      # NATS Streaming members are pinned one per manager by nats (member 1),
      # nats_2 and nats_3, all on the one manager when there is only one.
      swarm_node_labels = merge(
        { traefik = "true" },
        i == 0 ? { postgres = "true", nats = "true" } : {},
        i == 1 % var.manager_count ? { nats_2 = "true" } : {},
        i == 2 % var.manager_count ? { nats_3 = "true" } : {},
      )
      data_volumes = i == 0 ? [{
        name   = "postgres"
        device = hcloud_volume.postgres.linux_device
        path   = "/srv/postgres"
        luks   = var.volume_encryption
      }] : []
    }
  }

  # The first worker holds SeaweedFS; the last one the PostgreSQL standby
  # (the same worker when there is only one).
  worker_hosts = {
    for i, s in hcloud_server.worker : s.name => {
      ipv4         = s.ipv4_address
      ipv6         = s.ipv6_address
      private_ipv4 = hcloud_server_network.worker[i].ip
      swarm_node_labels = merge(
        i == 0 ? { seaweedfs = "true" } : {},
        var.postgres_standby && i == local.standby_worker_index ? { postgres_standby = "true" } : {},
      )
      data_volumes = concat(
        i == 0 ? [{
          name   = "seaweedfs"
          device = hcloud_volume.seaweedfs.linux_device
          path   = "/srv/seaweedfs"
          luks   = var.volume_encryption
        }] : [],
        var.postgres_standby && i == local.standby_worker_index ? [{
          name   = "postgres-standby"
          device = hcloud_volume.postgres_standby[0].linux_device
          path   = "/srv/postgres"
          luks   = var.volume_encryption
        }] : [],
      )
    }
  }
}

resource "local_file" "ansible_inventory" {
  filename        = "${path.module}/${var.ansible_inventory_path}"
  file_permission = "0644"
  content = templatefile("${path.module}/templates/inventory.yml.tftpl", {
    admin_username       = var.admin_username
    domain               = var.cloudflare_zone
    network_ip_range     = var.network_ip_range
    load_balancer_ip     = hcloud_load_balancer_network.ingress.ip
    behind_cloudflare    = var.dns_proxied
    cloudflare_ip_ranges = var.cloudflare_ip_ranges
    admin_source_cidrs   = var.ssh_allowed_cidrs
    managers             = local.manager_hosts
    workers              = local.worker_hosts
  })
}
