//! The second origin: signed download URLs that carry their own auth in the query string
//! (like a storage bucket's presigned URLs), reached through a 307 from `/file`.

use std::time::Duration;

use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

use super::Ctx;
use crate::files::hex;
use crate::lock;
use crate::response::{Resp, epoch_millis_after, with_body};
use crate::state::{Instance, InstanceStatus};
use crate::xml::{XmlWriter, today};

const EXPIRES: &str = "X-Sim-Expires";
const SIGNATURE: &str = "X-Sim-Signature";

fn sign(secret: &[u8], path: &str, expires: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(secret);
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(expires.to_string().as_bytes());
    hex(&hasher.finalize()[..16])
}

fn epoch_secs_now() -> u64 {
    u64::try_from(epoch_millis_after(Duration::ZERO) / 1000).unwrap_or(u64::MAX)
}

/// The signed URL of an instance's file on the second origin.
pub(super) fn signed_url(ctx: &Ctx<'_>, instance: &Instance) -> String {
    let path = format!("/download/{}/{}", instance.id, instance.file_name());
    let expires = epoch_secs_now().saturating_add(ctx.config.redirect_url_lifetime.as_secs());
    let signature = sign(&ctx.app.redirect_secret, &path, expires);
    format!(
        "{}{path}?{EXPIRES}={expires}&{SIGNATURE}={signature}",
        ctx.app.redirect_base
    )
}

/// A storage-style XML error (`<Error><Code>..</Code><Message>..</Message></Error>`).
fn storage_error(ctx: &Ctx<'_>, status: StatusCode, code: &str, message: &str) -> Resp {
    let body = XmlWriter::new(ctx.config.xml_declaration)
        .open("Error")
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error")
        .finish();
    with_body(status, "application/xml", body)
}

/// `GET /download/{instance}/{file}?X-Sim-Expires=..&X-Sim-Signature=..`.
pub(super) fn serve(
    ctx: &Ctx<'_>,
    headers: &HeaderMap,
    query: Option<&str>,
    instance: &str,
    file: &str,
) -> Resp {
    if headers.contains_key(AUTHORIZATION) {
        return storage_error(
            ctx,
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; send either the signed query parameters or an Authorization header, not both",
        );
    }
    let param = |name: &str| {
        query?
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    };
    let path = format!("/download/{instance}/{file}");
    let expires = param(EXPIRES).and_then(|e| e.parse::<u64>().ok());
    let signed = match (expires, param(SIGNATURE)) {
        (Some(expires), Some(sig)) => sign(&ctx.app.redirect_secret, &path, expires) == sig,
        _ => false,
    };
    if !signed {
        return storage_error(
            ctx,
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature does not match",
        );
    }
    if expires.is_some_and(|e| e < epoch_secs_now()) {
        return storage_error(
            ctx,
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
        );
    }
    let found = {
        let store = lock(&ctx.app.store);
        instance
            .parse::<u64>()
            .ok()
            .and_then(|id| store.instances.get(&id))
            .filter(|i| i.status(ctx.now, today()) == InstanceStatus::Ready)
            .cloned()
    };
    match found {
        Some(i) => super::instance_file_response(ctx.app, &i),
        None => storage_error(
            ctx,
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        ),
    }
}
