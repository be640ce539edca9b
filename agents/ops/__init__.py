"""The ops assistant: questions over the exception queue, orders and routing; actions only as proposals a
person decides."""
