// Package browserhook owns the script an integrator includes in the page
// that embeds the Sobot agent workbench (hook.js, with its typings hook.d.ts)
// and serves it: GET /hook.js answers the embedded file with the relay's
// workbench origins written into it, so that the allowlist is configured in
// one place. It imports nothing of ours; the caller validates the origins.
package browserhook
