# What no Chatwoot API sets, done in the Rails console of a running
# chatwoot_web container (`rails runner`, Chatwoot 4.14.2), idempotently.
# Reads one JSON object on stdin (secrets come this way, never on a command
# line) and prints one line "CHATWOOT_SETUP {json}" with the platform app's
# token and what changed:
#
#   platform_app      name of the platform app concierge chatwoot-setup acts as
#                     (PlatformApp: created once; its access token is returned)
#   super_admin       {email, name, password}: made once if the installation has
#                     no super admin; then the first-run onboarding (which makes
#                     whoever opens Chatwoot first its super admin) is closed
#   adopt_account_id  an account the app did not create that it may manage
#                     from now on (PlatformAppPermissible)
#   account_id        the set-up account: keep_pending_on_bot_failure on (not
#                     permitted by any API), the super admin its administrator
#   branding          installation configs (INSTALLATION_NAME, LOGO, ...): no
#                     API sets them; on the community plan with the enterprise
#                     code loaded Chatwoot resets them daily (see
#                     docs/chatwoot-setup.md)
require 'json'

input = JSON.parse($stdin.read)
changed = []

app = PlatformApp.find_by(name: input.fetch('platform_app'))
unless app
  app = PlatformApp.create!(name: input.fetch('platform_app'))
  changed << 'platform app'
end

admin = input['super_admin'] || {}
admin_email = admin['email'].to_s.downcase
if admin_email.present? && admin['password'].present? && !SuperAdmin.exists?
  user = User.find_by(email: admin_email)
  if user
    user.update!(type: 'SuperAdmin')
  else
    user = User.new(name: admin['name'].presence || admin_email, email: admin_email,
                    password: admin['password'], type: 'SuperAdmin')
    user.skip_confirmation!
    user.save!
  end
  changed << 'super admin'
end

if Redis::Alfred.get(Redis::Alfred::CHATWOOT_INSTALLATION_ONBOARDING).present? && SuperAdmin.exists?
  Redis::Alfred.delete(Redis::Alfred::CHATWOOT_INSTALLATION_ONBOARDING)
  changed << 'onboarding closed'
end

if input['adopt_account_id'].present?
  account = Account.find(input['adopt_account_id'])
  permit = PlatformAppPermissible.find_or_initialize_by(platform_app: app, permissible: account)
  if permit.new_record?
    permit.save!
    changed << "account #{account.id} adopted"
  end
end

if input['account_id'].present?
  account = Account.find(input['account_id'])
  unless account.keep_pending_on_bot_failure
    account.update!(keep_pending_on_bot_failure: true)
    changed << 'keep_pending_on_bot_failure'
  end
  super_admin = admin_email.present? && User.find_by(email: admin_email)
  if super_admin
    membership = AccountUser.find_or_initialize_by(account: account, user: super_admin)
    unless membership.persisted? && membership.administrator?
      membership.role = :administrator
      membership.save!
      changed << 'super admin administers the account'
    end
  end
end

(input['branding'] || {}).each do |name, value|
  config = InstallationConfig.find_or_initialize_by(name: name)
  next if config.persisted? && config.value.to_s == value.to_s

  config.value = value
  config.save!
  changed << name
end

puts "CHATWOOT_SETUP #{JSON.generate(platform_token: app.access_token.token, changed: changed)}"
