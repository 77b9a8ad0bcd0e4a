output "load_balancer_ipv4" {
  description = "Public IPv4 address of the load balancer, what the DNS records point at (behind Cloudflare's proxy when dns_proxied)."
  value       = hcloud_load_balancer.ingress.ipv4
}

output "load_balancer_ipv6" {
  description = "Public IPv6 address of the load balancer."
  value       = hcloud_load_balancer.ingress.ipv6
}

output "load_balancer_private_ipv4" {
  description = "The load balancer's address on the private network: the only source Traefik accepts the PROXY protocol from."
  value       = hcloud_load_balancer_network.ingress.ip
}

output "manager_ipv4" {
  description = "Public IPv4 address of each manager, by server name (SSH; web traffic comes through the load balancer)."
  value       = { for s in hcloud_server.manager : s.name => s.ipv4_address }
}

output "worker_ipv4" {
  description = "Public IPv4 address of each worker, by server name."
  value       = { for s in hcloud_server.worker : s.name => s.ipv4_address }
}

output "private_ipv4" {
  description = "Private network address of every server, by server name (what Swarm advertises)."
  value = merge(
    { for i, s in hcloud_server.manager : s.name => hcloud_server_network.manager[i].ip },
    { for i, s in hcloud_server.worker : s.name => hcloud_server_network.worker[i].ip },
  )
}

output "network_id" {
  description = "Id of the private network; the hetzner.hcloud dynamic inventory filters on it (`network:`)."
  value       = hcloud_network.private.id
}

output "public_hostnames" {
  description = "Fully qualified public hostnames created in Cloudflare."
  value       = sort([for n in var.dns_names : "${n}.${var.cloudflare_zone}"])
}

output "volume_devices" {
  description = "Linux device path of each data volume on the server it is attached to."
  value = merge(
    {
      postgres  = hcloud_volume.postgres.linux_device
      seaweedfs = hcloud_volume.seaweedfs.linux_device
    },
    { for v in hcloud_volume.postgres_standby : "postgres-standby" => v.linux_device },
  )
}

output "r2_bucket" {
  description = "Name of the R2 backup bucket."
  value       = cloudflare_r2_bucket.backups.name
}

output "r2_s3_endpoint" {
  description = "S3 API endpoint of the account's R2 storage, for the backup function and the lifecycle rule."
  value       = "https://${var.cloudflare_account_id}.r2.cloudflarestorage.com"
}

output "ansible_inventory_file" {
  description = "Path of the generated Ansible inventory."
  value       = local_file.ansible_inventory.filename
}
