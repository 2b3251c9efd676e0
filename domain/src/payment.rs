//! The PaymentReference aggregate: one stream per payment provider reference, so that a
//! reference pays one order and never a second one.
//!
//! The stream's id is the reference itself. Its only event records the order the reference
//! paid; it is appended in the same statement as that order's `OrderPaid`, each under its own
//! expected sequence, so two orders racing for one reference cannot both win: the loser's
//! append conflicts, is decided again, and is refused.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReference {
    /// The order this reference paid, once it has.
    pub order_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentReferenceCommand {
    /// Use the reference for `order_id`'s payment.
    Use { order_id: Uuid },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentReferenceEvent {
    PaymentReferenceUsed { order_id: Uuid },
}

impl DomainEvent for PaymentReferenceEvent {
    fn event_type(&self) -> String {
        match self {
            PaymentReferenceEvent::PaymentReferenceUsed { .. } => "PaymentReferenceUsed",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

impl PaymentReference {
    /// What `command` records: the first use of a reference, nothing when the same order
    /// uses it again (the provider called back twice), and a refusal for any other order.
    pub fn decide(
        &self,
        command: PaymentReferenceCommand,
    ) -> Result<Vec<PaymentReferenceEvent>, DomainError> {
        let PaymentReferenceCommand::Use { order_id } = command;
        match self.order_id {
            None => Ok(vec![PaymentReferenceEvent::PaymentReferenceUsed {
                order_id,
            }]),
            Some(paid) if paid == order_id => Ok(vec![]),
            Some(_) => Err(DomainError::InvalidTransition(
                "this payment reference has already paid another order".to_string(),
            )),
        }
    }
}

impl Aggregate for PaymentReference {
    const TYPE: &'static str = "PaymentReference";
    type Command = PaymentReferenceCommand;
    type Event = PaymentReferenceEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PaymentReferenceEvent::PaymentReferenceUsed { order_id } => {
                self.order_id = Some(order_id)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_pays_one_order_and_repeats_for_it_are_no_ops() {
        let first = Uuid::from_u128(1);
        let second = Uuid::from_u128(2);
        let mut reference = PaymentReference::default();
        let events = reference
            .decide(PaymentReferenceCommand::Use { order_id: first })
            .unwrap();
        assert_eq!(
            events,
            vec![PaymentReferenceEvent::PaymentReferenceUsed { order_id: first }]
        );
        for event in events {
            cqrs_es::Aggregate::apply(&mut reference, event);
        }
        assert_eq!(
            reference
                .decide(PaymentReferenceCommand::Use { order_id: first })
                .unwrap(),
            vec![]
        );
        let refused = reference
            .decide(PaymentReferenceCommand::Use { order_id: second })
            .unwrap_err();
        assert!(matches!(refused, DomainError::InvalidTransition(_)));
    }
}
