//! The wasm-bindgen APIs behind the npm package and the errors they throw, with stable codes
//! ([`error`]): the RQ-VAE module ([`api`], feature `wasm`) and the text module ([`text_api`],
//! feature `wasm-text`), two wasm files so that a page that only assigns IDs from vectors never
//! downloads the tokenizer and the text encoder.

#[cfg(feature = "wasm")]
mod api;
mod error;
#[cfg(feature = "wasm-text")]
mod text_api;

use burn::backend::wgpu::{graphics::WebGpu, init_setup_async, RuntimeOptions, WgpuDevice};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

thread_local! {
    /// The one set-up of burn-wgpu's default device, shared by every model of this instance.
    static WEBGPU_SETUP: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
}

/// Sets up the default WebGPU device once: a second `init_setup_async` on a device that is
/// already set up never resolves, which hung the page when a second encoder chose WebGPU.
fn webgpu_setup() -> js_sys::Promise {
    WEBGPU_SETUP.with(|setup| {
        setup
            .borrow_mut()
            .get_or_insert_with(|| {
                wasm_bindgen_futures::future_to_promise(async {
                    let device = WgpuDevice::default();
                    init_setup_async::<WebGpu>(&device, RuntimeOptions::default()).await;
                    Ok(JsValue::TRUE)
                })
            })
            .clone()
    })
}
