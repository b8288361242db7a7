//! Model cards (`rqvae::model_card`): the fingerprint a table records, sizes and parameter counts
//! from the config, the stored precision, and every extra metadata entry of the file.

use crate::data;
use rqvae::ids::fingerprint::model_fingerprint;
use rqvae::model_card::{ModelCard, StoredPrecision};
use rqvae::Precision;
use serde_json::json;

#[test]
fn the_default_models_card_has_its_fingerprint_sizes_and_parameter_counts() {
    let bytes = std::fs::read(data::default_model_path()).unwrap();
    let (card, weights) = ModelCard::from_bytes(&bytes).unwrap();
    assert_eq!(card.format, "rqvae-model-card");
    assert_eq!(card.version, 1);
    assert_eq!(card.model, model_fingerprint(&weights));
    assert_eq!(card.config, weights.config);
    // 768 → 512 → 256 → 128 → 32 and back, 3 × 256 codes of 32.
    let widths = [768, 512, 256, 128, 32];
    let mlp: usize = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    let decoder: usize = widths.windows(2).map(|w| w[1] * w[0] + w[0]).sum();
    assert_eq!(card.parameters.encoder, mlp);
    assert_eq!(card.parameters.codebooks, 3 * 256 * 32);
    assert_eq!(card.parameters.decoder, Some(decoder));
    assert_eq!(card.parameters.total, mlp + 3 * 256 * 32 + decoder);
    assert_eq!(
        card.precision,
        StoredPrecision::F16,
        "the shipped model is f16"
    );
    assert!(card.decoder);
    assert!(card.metadata.is_empty(), "{:?}", card.metadata);
    assert_eq!((card.metrics.as_ref(), card.run.as_ref()), (None, None));
    let text = card.to_json();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["precision"], "f16");
    assert_eq!(value["metrics"], serde_json::Value::Null);
    assert_eq!(serde_json::from_str::<ModelCard>(&text).unwrap(), card);
}

#[test]
fn a_cards_metadata_holds_every_extra_entry_parsed_where_it_is_json() {
    let weights = data::default_model().without_decoder();
    let source = json!({ "file": "best_model.pth", "sha256": "ab12", "layout": "reference" });
    let bytes = weights
        .to_bytes_with_metadata(
            Precision::F32,
            &[
                ("source", source.to_string()),
                ("note", "trained on the sample".to_string()),
            ],
        )
        .unwrap();
    let (card, _) = ModelCard::from_bytes(&bytes).unwrap();
    assert_eq!(
        serde_json::Value::Object(card.metadata.clone()),
        json!({ "note": "trained on the sample", "source": source })
    );
    assert_eq!(card.precision, StoredPrecision::F32);
    assert!(!card.decoder);
    assert_eq!(card.parameters.decoder, None);
    assert_eq!(
        card.parameters.total,
        card.parameters.encoder + card.parameters.codebooks
    );
    // f32 values of f16 weights: the same model, so the same fingerprint as the shipped file.
    let shipped = ModelCard::from_bytes(&std::fs::read(data::default_model_path()).unwrap())
        .unwrap()
        .0;
    assert_eq!(card.model, shipped.model);
}

#[test]
fn a_file_that_is_not_weights_has_no_card() {
    let err = ModelCard::from_bytes(b"not a safetensors file").unwrap_err();
    assert!(err.to_string().contains("not a safetensors file"), "{err}");
}
