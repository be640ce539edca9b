"""The returns evaluation: the abuse score's precision and recall, restock routing against back-to-origin."""
