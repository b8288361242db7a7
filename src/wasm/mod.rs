//! The wasm-bindgen APIs behind the npm package and the errors they throw, with stable codes
//! ([`error`]): the RQ-VAE module ([`api`], feature `wasm`) and the text module ([`text_api`],
//! feature `wasm-text`), two wasm files so that a page that only assigns IDs from vectors never
//! downloads the tokenizer and the text encoder.

#[cfg(feature = "wasm")]
mod api;
mod error;
#[cfg(feature = "wasm")]
mod map_api;
#[cfg(feature = "wasm-text")]
mod text_api;

use burn::backend::wgpu::{graphics::WebGpu, init_setup_async, RuntimeOptions, WgpuDevice};
use std::cell::RefCell;
use std::rc::Rc;
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

/// A model on WebGPU, made on first use: empty until `initWebGpu` fills it.
type GpuSlot<M> = Rc<RefCell<Option<Rc<M>>>>;

/// Both modules' `initWebGpu`: resolves once the device is set up and `make` has put the model
/// in `slot` (made once: a later call finds it there). The caller must have checked that
/// `navigator.gpu.requestAdapter()` yields an adapter: wgpu panics without one.
fn init_webgpu_model<M: 'static>(
    slot: GpuSlot<M>,
    make: impl FnOnce(&WgpuDevice) -> M + 'static,
) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        if slot.borrow().is_some() {
            return Ok(JsValue::TRUE);
        }
        wasm_bindgen_futures::JsFuture::from(webgpu_setup()).await?;
        let model = make(&WgpuDevice::default());
        *slot.borrow_mut() = Some(Rc::new(model));
        Ok(JsValue::TRUE)
    })
}
