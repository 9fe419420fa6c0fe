# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_hookgate_global_optspecs
    string join \n config= data-dir= bind= public-url= secret-ttl= secret-grace= rotate-before= timestamp-tolerance= max-body= merchant-rate= ip-rate= retention= smtp-url= smtp-ca= log-format= jobs-interval= body-timeout= trusted-proxy= destination-allow= delivery-concurrency= order-emails= h/help V/version
end

function __fish_hookgate_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_hookgate_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_hookgate_using_subcommand
    set -l cmd (__fish_hookgate_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c hookgate -n "__fish_hookgate_needs_command" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_needs_command" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_needs_command" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_needs_command" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_needs_command" -s V -l version -d 'Print version'
complete -c hookgate -n "__fish_hookgate_needs_command" -f -a "serve" -d 'Run the server (the default)'
complete -c hookgate -n "__fish_hookgate_needs_command" -f -a "admin" -d 'Manage administrators'
complete -c hookgate -n "__fish_hookgate_needs_command" -f -a "check" -d 'Validate configuration, data dir, schema and integrity'
complete -c hookgate -n "__fish_hookgate_needs_command" -f -a "backup" -d 'Write a consistent online copy of the database'
complete -c hookgate -n "__fish_hookgate_needs_command" -f -a "email" -d 'Check the email settings'
complete -c hookgate -n "__fish_hookgate_needs_command" -f -a "sign" -d 'Sign a body read from stdin; print the three Standard Webhooks headers'
complete -c hookgate -n "__fish_hookgate_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand serve" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -f -a "create" -d 'Create an administrator'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -f -a "token" -d 'Mint an admin API token and print it once'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -f -a "tokens" -d 'List admin API tokens (of one admin with --email), or revoke one'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -f -a "password" -d 'Set an administrator\'s password; ends every session of that admin'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -f -a "list" -d 'List administrators'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and not __fish_seen_subcommand_from create token tokens password list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l email -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -l password-stdin -d 'Read the password from stdin instead of prompting'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l email -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l name -d 'A name to recognise the token by in listings (default: cli)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l expires -d 'Lifetime, e.g. 90d (default: never expires)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from token" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l email -d 'Only this admin\'s tokens' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -f -a "revoke" -d 'Revoke a token by its id (tok_..., from the listing); it answers 401 from then on'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from tokens" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l email -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -l password-stdin -d 'Read the password from stdin instead of prompting'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from password" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create an administrator'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "token" -d 'Mint an admin API token and print it once'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "tokens" -d 'List admin API tokens (of one admin with --email), or revoke one'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "password" -d 'Set an administrator\'s password; ends every session of that admin'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "list" -d 'List administrators'
complete -c hookgate -n "__fish_hookgate_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand check" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l out -d 'Destination file (not in the data dir, not a directory), or - for standard output' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -l force -d 'Replace the destination file if it exists'
complete -c hookgate -n "__fish_hookgate_using_subcommand backup" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -f -a "test" -d 'Send one message through --smtp-url now and print the server\'s answer'
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and not __fish_seen_subcommand_from test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l to -d 'Recipient address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from help" -f -a "test" -d 'Send one message through --smtp-url now and print the server\'s answer'
complete -c hookgate -n "__fish_hookgate_using_subcommand email; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l secret -d 'The signing secret (whsec_...)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l id -d 'webhook-id (random when omitted)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l timestamp -d 'webhook-timestamp in unix seconds (now when omitted)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l config -d 'TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l data-dir -d 'Directory holding the database and the master key' -r -F
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l bind -d 'Listen address' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l public-url -d 'Base URL used in emails and snippets; https:// enables Secure cookies and HSTS' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l secret-ttl -d 'Lifetime of a webhook signing secret (e.g. 90d)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l secret-grace -d 'How long a superseded secret keeps verifying after a manual rotation' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l rotate-before -d 'Issue the successor secret this long before the current one expires' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l timestamp-tolerance -d 'Accepted clock skew of webhook-timestamp, past and future' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l max-body -d 'Largest accepted webhook body (e.g. 1MiB)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l merchant-rate -d 'Per-merchant accepted-webhook rate (e.g. 100/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l ip-rate -d 'Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l retention -d 'How long events and their bodies are kept' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l smtp-url -d 'smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or smtp+plain:// (no TLS); unset = emails stay in the outbox' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l smtp-ca -d 'PEM file of CA certificates the mailer trusts besides the public roots (a private CA)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l log-format -d 'Log format: text or json' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l jobs-interval -d 'How often background jobs (rotation, outbox, retention) run' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l body-timeout -d 'How long a request\'s body may take to arrive, plus one second per 64 KiB it declares' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l trusted-proxy -d 'Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l destination-allow -d 'Networks deliveries may reach although private or loopback: CIDRs, comma-separated (e.g. 127.0.0.1/32 for an app on the same host)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l delivery-concurrency -d 'Delivery attempts in flight at once, over all destinations (at most 8 per destination)' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -l order-emails -d 'Email shoppers about their orders (confirmation, status changes): on or off; off stops them for every merchant, whatever the merchant\'s own setting' -r
complete -c hookgate -n "__fish_hookgate_using_subcommand sign" -s h -l help -d 'Print help'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and not __fish_seen_subcommand_from serve admin check backup email sign help" -f -a "serve" -d 'Run the server (the default)'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and not __fish_seen_subcommand_from serve admin check backup email sign help" -f -a "admin" -d 'Manage administrators'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and not __fish_seen_subcommand_from serve admin check backup email sign help" -f -a "check" -d 'Validate configuration, data dir, schema and integrity'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and not __fish_seen_subcommand_from serve admin check backup email sign help" -f -a "backup" -d 'Write a consistent online copy of the database'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and not __fish_seen_subcommand_from serve admin check backup email sign help" -f -a "email" -d 'Check the email settings'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and not __fish_seen_subcommand_from serve admin check backup email sign help" -f -a "sign" -d 'Sign a body read from stdin; print the three Standard Webhooks headers'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and not __fish_seen_subcommand_from serve admin check backup email sign help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "create" -d 'Create an administrator'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "token" -d 'Mint an admin API token and print it once'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "tokens" -d 'List admin API tokens (of one admin with --email), or revoke one'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "password" -d 'Set an administrator\'s password; ends every session of that admin'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "list" -d 'List administrators'
complete -c hookgate -n "__fish_hookgate_using_subcommand help; and __fish_seen_subcommand_from email" -f -a "test" -d 'Send one message through --smtp-url now and print the server\'s answer'
