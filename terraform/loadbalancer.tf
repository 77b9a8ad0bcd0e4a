# The public entry: a Hetzner Load Balancer in front of Traefik, which runs on
# every manager (docs/high-availability.md). It forwards TCP 80 and 443 as
# they are (Traefik terminates TLS with its Let's Encrypt certificate) to the
# managers' private addresses, with the PROXY protocol so Traefik sees the
# real client (a Cloudflare edge when the records are proxied), and takes a
# manager out of rotation when Traefik's ping entrypoint stops answering.
#
# Why a Hetzner Load Balancer rather than Cloudflare proxying to several
# origins: Cloudflare without its paid Load Balancing add-on has no origin
# health checks (a proxied name with several A records keeps sending a share
# of the requests to a dead manager), while the Hetzner one checks every
# manager every 5 s, reaches them over the private network (the servers'
# 80/443 need not be open to the internet at all) and works the same with
# dns_proxied off.

locals {
  # A fixed private address, so Traefik can trust the PROXY protocol header
  # from it alone (the generated inventory hands it to Ansible).
  load_balancer_private_ip = cidrhost(var.subnet_ip_range, 5)

  # Traefik's ping entrypoint (ansible: traefik stack, --entrypoints.ping).
  traefik_ping_port = 8082
}

resource "hcloud_load_balancer" "ingress" {
  name               = "${var.project_name}-ingress"
  load_balancer_type = var.load_balancer_type
  location           = var.location
  delete_protection  = var.delete_protection
  labels             = merge(local.labels, { role = "ingress" })

  algorithm {
    # Chatwoot's websockets stay open for hours: spread by open connections.
    type = "least_connections"
  }
}

resource "hcloud_load_balancer_network" "ingress" {
  load_balancer_id        = hcloud_load_balancer.ingress.id
  subnet_id               = hcloud_network_subnet.servers.id
  ip                      = local.load_balancer_private_ip
  enable_public_interface = true
}

resource "hcloud_load_balancer_target" "manager" {
  count = var.manager_count

  type             = "server"
  load_balancer_id = hcloud_load_balancer.ingress.id
  server_id        = hcloud_server.manager[count.index].id
  use_private_ip   = true

  # A private target needs the load balancer and the server on the network.
  depends_on = [hcloud_load_balancer_network.ingress, hcloud_server_network.manager]
}

resource "hcloud_load_balancer_service" "web" {
  for_each = toset(["80", "443"])

  load_balancer_id = hcloud_load_balancer.ingress.id
  protocol         = "tcp"
  listen_port      = tonumber(each.key)
  destination_port = tonumber(each.key)
  proxyprotocol    = true

  health_check {
    protocol = "http"
    port     = local.traefik_ping_port
    # A dead manager is out of rotation within about 15 s.
    interval = 5
    timeout  = 3
    retries  = 2

    http {
      path         = "/ping"
      status_codes = ["200"]
    }
  }
}
